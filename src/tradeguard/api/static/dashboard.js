/* tradeguard operator dashboard.
 *
 * The operator token lives in the `token` variable of this closure only: never in
 * localStorage, sessionStorage, a cookie or the URL. Reloading the page forgets it.
 * The state is polled every second; a state older than STALE_MS is shown as UNKNOWN,
 * never as the last good answer (fail closed on the screen too).
 */
(function () {
  "use strict";

  const STATUS_EVERY_MS = 1000;
  const DECISIONS_EVERY_MS = 1000;
  const COUNTS_EVERY_MS = 5000;
  const COUNTS_SOON_MS = 1000;
  const STALE_MS = 4000;
  const CONFIRM_MS = 4000;
  const DECISION_ROWS = 30;
  const OVERLAP_MS = 5000; // re-read this much before the newest row: late commits are not lost

  const urls = document.body.dataset;
  const $ = (id) => document.getElementById(id);

  let token = null;
  let lastStatusAt = 0;
  let lastCountsAt = 0;
  let decisionRows = new Map(); // seq -> row
  let decisionsLoaded = false;

  const view = window.TradeguardView;
  const { showState, node, cell } = view;

  // -- talking to the API ------------------------------------------------------------------

  class ApiFailure extends Error {
    constructor(status, code, message) {
      super(code + ": " + message);
      this.status = status;
      this.code = code;
    }
  }

  async function call(url, options) {
    if (!token) throw new ApiFailure(0, "NO_TOKEN", "enter the operator token");
    const init = Object.assign({ cache: "no-store", credentials: "omit" }, options || {});
    init.headers = Object.assign({ Authorization: "Bearer " + token }, init.headers || {});
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new ApiFailure(0, "SERVICE_UNREACHABLE", "the service does not answer");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok) {
      const code = (body && body.code) || "HTTP_" + response.status;
      const message = (body && body.message) || response.statusText;
      if (response.status === 401 || response.status === 403) lock(code + ": " + message);
      throw new ApiFailure(response.status, code, message);
    }
    return body;
  }

  function post(url, payload) {
    return call(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
  }

  function setConnection(live, message) {
    $("connection").className = "connection " + (live ? "live" : token ? "stale" : "off");
    $("connection-text").textContent = message;
  }

  async function refreshStatus() {
    try {
      const s = await call(urls.statusUrl);
      lastStatusAt = Date.now();
      view.renderBanner(s);
      view.renderGates(s);
      view.renderChecks(s);
      view.renderSystem(s);
      setConnection(true, "live");
      document.body.classList.remove("stale");
    } catch (error) {
      if (token) setConnection(false, error.code === "SERVICE_UNREACHABLE" ? "no answer" : error.code);
      $("connection").title = error.message;
    }
    markStale();
  }

  function markStale() {
    if (!token) return;
    const age = Date.now() - lastStatusAt;
    if (lastStatusAt === 0 || age > STALE_MS) {
      const since = lastStatusAt ? " since " + new Date(lastStatusAt).toISOString().slice(11, 19) + " UTC" : "";
      showState("UNKNOWN", "no answer" + since,
        "The page cannot read the state now; what is greyed out below is the last answer, not the present.");
      $("latched").hidden = true;
      ["blocking-gate", "latch-info", "kill-info"].forEach((id) => { $(id).textContent = "unknown"; });
      document.body.classList.add("stale");
    }
  }

  // -- decisions ---------------------------------------------------------------------------

  function renderDecisions(fresh) {
    const body = $("decisions").tBodies[0];
    const rows = Array.from(decisionRows.values()).sort((a, b) => b.seq - a.seq).slice(0, DECISION_ROWS);
    decisionRows = new Map(rows.map((r) => [r.seq, r]));
    body.replaceChildren();
    if (!rows.length) {
      const tr = node("tr", "empty-row");
      const td = cell("no decisions yet");
      td.colSpan = 8;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    rows.forEach((row) => body.appendChild(view.decisionRow(row, fresh.has(row.seq))));
    $("decisions-note").textContent = rows.length ? "newest first · " + rows.length + " shown" : "";
  }

  function newestStamp() {
    let newest = null;
    decisionRows.forEach((row) => {
      if (!newest || row.timestamp_utc > newest) newest = row.timestamp_utc;
    });
    return newest;
  }

  async function refreshDecisions() {
    let url = urls.decisionsUrl + "?limit=" + DECISION_ROWS;
    const newest = decisionsLoaded ? newestStamp() : null;
    if (newest) {
      const since = new Date(Date.parse(newest) - OVERLAP_MS).toISOString();
      // only the newest DECISION_ROWS are shown, so a busy second needs no more than that
      url = urls.decisionsUrl + "?limit=" + 2 * DECISION_ROWS + "&since=" + encodeURIComponent(since);
    }
    try {
      const answer = await call(url);
      const fresh = new Set();
      answer.decisions.forEach((row) => {
        if (!decisionRows.has(row.seq)) fresh.add(row.seq);
        decisionRows.set(row.seq, row);
      });
      const first = !decisionsLoaded;
      decisionsLoaded = true;
      if (fresh.size || first) renderDecisions(first ? new Set() : fresh);
      // a new signal decision moves the chart too, without waiting for its own poll
      const signals = answer.decisions.some((row) => fresh.has(row.seq) && row.origin === "signal");
      if (!first && signals && Date.now() - lastCountsAt > COUNTS_SOON_MS) refreshCounts();
    } catch (error) {
      /* shown by the connection indicator */
    }
  }

  async function refreshCounts() {
    lastCountsAt = Date.now();
    try {
      const data = await call(urls.countsUrl + "?minutes=60");
      window.TradeguardChart.render($("chart"), data);
      const t = data.totals;
      const totals = $("chart-totals");
      totals.replaceChildren();
      totals.append(node("b", "", String(t.decisions)), " decided · ", node("b", "", String(t.accepted)),
        " accepted · ", node("b", "refused", String(t.refused)), " refused");
      if (data.truncated) totals.append(" · partial (scan limit)");
    } catch (error) {
      /* shown by the connection indicator */
    }
  }

  // -- operator actions ----------------------------------------------------------------------

  function actionInputs() {
    const operatorId = $("operator").value.trim();
    const reason = $("action-reason").value.trim();
    if (!operatorId || !reason) {
      throw new ApiFailure(0, "OPERATOR_ID_REQUIRED", "enter your operator id and a reason first");
    }
    return { operator_id: operatorId, reason: reason };
  }

  function report(ok, message) {
    const out = $("action-result");
    out.className = "action-result " + (ok ? "ok" : "fail");
    out.textContent = message;
  }

  function describe(path, answer, inputs) {
    const stamp = new Date().toISOString().slice(11, 19) + " UTC";
    if (path === urls.latchResetUrl) {
      return "Latch reset by " + inputs.operator_id + (answer.was_latched ? "" : " (it was not latched)") +
        " · " + stamp;
    }
    const active = answer.kill_switch && answer.kill_switch.active;
    return "Kill switch " + (active ? "ENGAGED" : "released") + " by " + inputs.operator_id + " · " + stamp;
  }

  async function act(path, extra, button) {
    let inputs;
    try {
      inputs = actionInputs();
    } catch (error) {
      report(false, error.message);
      return;
    }
    button.disabled = true;
    try {
      const answer = await post(path, Object.assign({}, extra, inputs));
      report(true, describe(path, answer, inputs));
    } catch (error) {
      report(false, error.message);
    } finally {
      button.disabled = false;
    }
    await Promise.all([refreshStatus(), refreshDecisions()]);
  }

  // Releasing the kill switch and resetting the latch let trading resume: ask twice.
  function confirmed(button) {
    if (button.classList.contains("armed")) {
      disarm(button);
      return true;
    }
    button.dataset.label = button.textContent;
    button.textContent = "Click again to confirm";
    button.classList.add("armed");
    button.disarmTimer = setTimeout(() => disarm(button), CONFIRM_MS);
    return false;
  }

  function disarm(button) {
    clearTimeout(button.disarmTimer);
    button.classList.remove("armed");
    if (button.dataset.label) button.textContent = button.dataset.label;
  }

  // -- token handling and polling --------------------------------------------------------------

  // Run fn now and then ms after each run ends (never two at once); return a stop function.
  function every(fn, ms) {
    let stopped = false;
    let timer = null;
    const loop = async () => {
      if (stopped || !token) return;
      await fn();
      if (!stopped && token) timer = setTimeout(loop, ms);
    };
    loop();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  let stops = [];

  function start() {
    stops.forEach((stop) => stop());
    stops = [
      every(refreshStatus, STATUS_EVERY_MS),
      every(refreshDecisions, DECISIONS_EVERY_MS),
      every(refreshCounts, COUNTS_EVERY_MS),
      every(async () => markStale(), 500),
    ];
  }

  function lock(message) {
    token = null;
    stops.forEach((stop) => stop());
    stops = [];
    $("unlock").hidden = false;
    $("forget").hidden = true;
    $("token-error").textContent = message || "";
    setConnection(false, "not connected");
    showState("UNKNOWN", "—", "Connect with the operator token to see the state.",
      "the page has no operator token yet");
    ["blocking-gate", "latch-info", "kill-info", "updated"].forEach((id) => { $(id).textContent = "—"; });
    $("mode").hidden = true;
    $("exchange").hidden = true;
    // nothing read with the old token stays on screen
    ["gates", "system", "chart", "chart-totals", "decisions-note", "health-overall"].forEach((id) => {
      $(id).replaceChildren();
    });
    $("checks").tBodies[0].replaceChildren();
    $("decisions").tBodies[0].replaceChildren();
    decisionRows = new Map();
    $("token").focus();
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    $("token").value = "";
    if (!value) {
      $("token-error").textContent = "enter the operator token";
      return;
    }
    token = value;
    $("token-error").textContent = "";
    $("unlock").hidden = true;
    $("forget").hidden = false;
    decisionRows = new Map();
    decisionsLoaded = false;
    lastStatusAt = 0;
    setConnection(false, "connecting…");
    start();
  });

  $("forget").addEventListener("click", () => lock(""));
  $("engage").addEventListener("click", (event) => act(urls.killSwitchUrl, { active: true }, event.currentTarget));
  $("release").addEventListener("click", (event) => {
    if (confirmed(event.currentTarget)) act(urls.killSwitchUrl, { active: false }, event.currentTarget);
  });
  $("reset").addEventListener("click", (event) => {
    if (confirmed(event.currentTarget)) act(urls.latchResetUrl, {}, event.currentTarget);
  });
  window.addEventListener("resize", () => { if (token) refreshCounts(); });

  lock("");
})();

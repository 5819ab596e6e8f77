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
  let lastState = null;
  let decisionRows = new Map(); // seq -> row
  let decisionsLoaded = false;

  const STATE_MEANING = {
    ALLOW: "every intent may pass",
    NEUTRAL: "no new risk: only reduce, close, cancel and stop updates pass",
    HALT: "stop all trading: nothing new is sent, resting orders are cancelled",
    L6_LOCKDOWN: "the event feed failed 5 times: kill switch engaged by the system; never clears by itself",
    UNKNOWN: "the service does not answer: do not assume trading is safe",
  };

  const REASONS = {
    ALLOW_ALL_GATES_PASSED: "Every gate passes.",
    HALT_KILL_SWITCH: "The kill switch is engaged.",
    HALT_BUDGET_HARD_STOP: "The operating budget is spent, at risk, or its report is corrupt.",
    HALT_BUDGET_RDS_EXCEEDED: "Today's spend is above the recommended daily spend.",
    HALT_BUDGET_STALE_DATA: "The budget report is too old (or dated in the future).",
    NEUTRAL_HEALTH_YELLOW: "A health check is degraded.",
    NEUTRAL_HEALTH_RED: "A health check failed.",
    HALT_RISK_CRITICAL: "Portfolio risk is critical.",
    HALT_LATCHED: "An earlier HALT holds the latch: it clears after the re-validation window of all-passing evaluations, or by an operator reset.",
    HALT_CONTEXT_INCOMPLETE: "A source did not answer in time: failing closed.",
  };

  const GATES = [
    { name: "KILL_SWITCH", label: "Kill switch", source: "kill_switch_active" },
    { name: "BUDGET", label: "Budget", source: "budget_signal" },
    { name: "HEALTH", label: "Health", source: "health_status" },
    { name: "RISK", label: "Risk", source: "risk_assessment" },
  ];

  // -- small DOM helpers -------------------------------------------------------------------

  function text(value) {
    return value === null || value === undefined || value === "" ? "—" : String(value);
  }

  function node(tag, cls, content) {
    const element = document.createElement(tag);
    if (cls) element.className = cls;
    if (content !== undefined) element.textContent = content;
    return element;
  }

  function pill(value, extra) {
    return node("span", "pill " + String(value || "") + (extra ? " " + extra : ""), text(value));
  }

  function cell(content, cls) {
    const td = node("td", cls);
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = text(content);
    return td;
  }

  function clock(iso) {
    return iso ? String(iso).slice(11, 23) : "—";
  }

  function humanize(name) {
    const words = String(name || "").replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

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

  // -- the state ---------------------------------------------------------------------------

  function showState(state, reasonCode, reasonText, meaning) {
    const banner = $("banner");
    banner.className = "banner " + state;
    $("state").textContent = state;
    $("state-meaning").textContent = meaning || STATE_MEANING[state] || "";
    $("reason-code").textContent = text(reasonCode);
    $("reason-text").textContent = reasonText || "";
    if (state !== lastState) document.title = state + " · tradeguard";
    lastState = state;
  }

  function latchText(latch) {
    if (!latch) return "—";
    if (latch.phase === "UNLATCHED") return "not latched";
    const parts = [latch.phase];
    if (latch.gate) parts.push("by " + latch.gate);
    if (latch.latched_at) parts.push("since " + clock(latch.latched_at));
    return parts.join(" ");
  }

  function killText(kill) {
    if (!kill || !kill.active) return "released";
    return "ENGAGED by " + text(kill.actor) + (kill.reason ? " — “" + kill.reason + "”" : "") +
      (kill.since ? " at " + clock(kill.since) : "");
  }

  function renderBanner(s) {
    let why = REASONS[s.reason_code] || "";
    if (s.incomplete_sources && s.incomplete_sources.length) {
      why += " No answer from: " + s.incomplete_sources.join(", ") + ".";
    }
    showState(s.state, s.reason_code, why);
    $("latched").hidden = !s.is_latched;
    $("blocking-gate").textContent = s.blocking_gate
      ? s.blocking_gate + " (rank " + s.precedence_rank + ")" : "none";
    $("latch-info").textContent = latchText(s.latch);
    $("kill-info").textContent = killText(s.kill_switch);
    $("updated").textContent = clock(s.timestamp_utc) + " UTC";
  }

  function gateDetail(gate, s) {
    if (gate.name === "KILL_SWITCH") {
      const kill = s.kill_switch || {};
      return kill.active ? "by " + text(kill.actor) + ": " + text(kill.reason) : "released";
    }
    if (gate.name === "BUDGET") return s.budget ? text(s.budget.detail || s.budget.code) : "";
    if (gate.name === "HEALTH") {
      const bad = (s.health_checks || []).filter((c) => c.status === "YELLOW" || c.status === "RED");
      return bad.length ? bad.map((c) => c.code).join(", ") : "every check passes";
    }
    const breaches = (s.risk && s.risk.breaches) || [];
    return breaches.length ? breaches.map((b) => b.code).join(", ") : "within limits";
  }

  function gateValue(gate, s) {
    if (gate.name === "KILL_SWITCH") return s.kill_switch_active ? "ENGAGED" : "OFF";
    return s[gate.source];
  }

  function gateClass(value) {
    if (["OFF", "ALLOW", "GREEN", "HEALTHY"].includes(value)) return "ok";
    if (["YELLOW", "WARNING"].includes(value)) return "warn";
    return "bad";
  }

  function renderGates(s) {
    const list = $("gates");
    list.replaceChildren();
    const incomplete = s.incomplete_sources || [];
    GATES.forEach((gate, index) => {
      const value = gateValue(gate, s);
      const item = node("li", "gate " + gateClass(value));
      item.dataset.gate = gate.name;
      // Under HALT_LATCHED the named gate is the one that set the latch, not one failing now.
      const latchedBy = s.reason_code === "HALT_LATCHED";
      if (s.blocking_gate === gate.name) item.classList.add(latchedBy ? "latched-by" : "blocking");
      item.appendChild(node("span", "rank", String(index + 1)));
      const body = node("div");
      const name = node("div", "name", gate.label);
      if (s.blocking_gate === gate.name) {
        name.appendChild(node("span", "blocking-tag", latchedBy ? "SET THE LATCH" : "BLOCKING"));
      }
      body.appendChild(name);
      const detail = incomplete.includes(gate.name) ? "no answer: counted as failed" : gateDetail(gate, s);
      body.appendChild(node("div", "detail", detail));
      item.appendChild(body);
      item.appendChild(pill(value));
      list.appendChild(item);
    });
  }

  function renderChecks(s) {
    $("health-overall").className = "pill " + s.health_status;
    $("health-overall").textContent = s.health_status;
    const body = $("checks").tBodies[0];
    body.replaceChildren();
    (s.health_checks || []).forEach((check) => {
      const tr = node("tr");
      tr.dataset.check = check.name;
      const name = cell(humanize(check.name));
      if (check.detail) name.appendChild(node("span", "detail", check.detail));
      tr.appendChild(name);
      tr.appendChild(cell(pill(check.status)));
      tr.appendChild(cell(check.code, "code mono"));
      body.appendChild(tr);
    });
  }

  function renderSystem(s) {
    $("mode").textContent = text(s.execution_mode);
    $("mode").className = "badge " + text(s.execution_mode);
    $("exchange").textContent = "exchange: " + text(s.exchange);
    $("mode").hidden = false;
    $("exchange").hidden = false;
    const feed = s.event_feed || {};
    const rows = [
      ["execution mode", s.execution_mode],
      ["exchange", s.exchange],
      ["policy layer", s.policy_enabled ? "enabled" : "DISABLED (legacy confidence rule)"],
      ["clock drift", s.clock_drift_ms === null || s.clock_drift_ms === undefined
        ? null : Number(s.clock_drift_ms).toFixed(2) + " ms"],
    ];
    if (feed.configured) {
      rows.push(["event feed", (feed.connected ? "connected" : "DISCONNECTED") +
        (feed.consecutive_failures ? " · " + feed.consecutive_failures + " failed reconnects" : "")]);
    }
    Object.keys(s.safeguards || {}).forEach((key) => rows.push([humanize(key), s.safeguards[key]]));
    const list = $("system");
    list.replaceChildren();
    rows.forEach(([key, value]) => {
      list.appendChild(node("dt", "", key));
      list.appendChild(node("dd", "", text(value)));
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
      renderBanner(s);
      renderGates(s);
      renderChecks(s);
      renderSystem(s);
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

  function decisionRow(row, isNew) {
    const tr = node("tr", isNew ? "new" : "");
    tr.dataset.seq = row.seq;
    tr.dataset.correlationId = row.correlation_id;
    tr.appendChild(cell(clock(row.timestamp_utc), "mono"));
    tr.appendChild(cell(pill(row.policy_decision)));
    tr.appendChild(cell(row.reason_code, "reason mono"));
    tr.appendChild(cell(row.blocking_gate ? row.blocking_gate + " (" + row.precedence_rank + ")" : null));
    tr.appendChild(cell(row.origin));
    tr.appendChild(cell(row.is_latched ? "yes" : "no"));
    tr.appendChild(cell(row.ai_confidence));
    const id = cell(String(row.correlation_id || "").slice(-12), "mono");
    id.title = row.correlation_id || "";
    tr.appendChild(id);
    return tr;
  }

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
    rows.forEach((row) => body.appendChild(decisionRow(row, fresh.has(row.seq))));
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

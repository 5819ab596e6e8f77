/* How the dashboard draws the state: the banner, gates, health checks, system facts and a
 * decision row. Pure DOM work from the API's answers; no requests, no token. */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  let lastState = null;

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

  window.TradeguardView = {
    showState: showState,
    renderBanner: renderBanner,
    renderGates: renderGates,
    renderChecks: renderChecks,
    renderSystem: renderSystem,
    decisionRow: decisionRow,
    node: node,
    cell: cell,
  };
})();

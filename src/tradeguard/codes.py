"""Stable, append-only codes carried by every decision, error, log line and audit row.

A code is never renamed or reused; its text in ``CODE_INFO`` may change. Every code has an
entry in ``CODE_INFO`` (meaning, operator action), which the runbook's reference table is
generated from; a contract test checks that both stay complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PolicyReasonCode(StrEnum):
    """Why the policy answered what it answered (SPEC §2.1)."""

    ALLOW_ALL_GATES_PASSED = "ALLOW_ALL_GATES_PASSED"
    HALT_KILL_SWITCH = "HALT_KILL_SWITCH"
    HALT_BUDGET_HARD_STOP = "HALT_BUDGET_HARD_STOP"
    HALT_BUDGET_RDS_EXCEEDED = "HALT_BUDGET_RDS_EXCEEDED"
    HALT_BUDGET_STALE_DATA = "HALT_BUDGET_STALE_DATA"
    HALT_RISK_CRITICAL = "HALT_RISK_CRITICAL"
    NEUTRAL_HEALTH_YELLOW = "NEUTRAL_HEALTH_YELLOW"
    NEUTRAL_HEALTH_RED = "NEUTRAL_HEALTH_RED"
    HALT_LATCHED = "HALT_LATCHED"
    HALT_CONTEXT_INCOMPLETE = "HALT_CONTEXT_INCOMPLETE"


class ErrorCode(StrEnum):
    """Every other code: source failures, conditions, refusals, errors, events."""

    # Policy context (SPEC §3)
    TPP_001 = "TPP-001"
    TPP_002 = "TPP-002"
    TPP_003 = "TPP-003"
    TPP_004 = "TPP-004"
    TPP_005 = "TPP-005"
    POLICY_CONTEXT_INCOMPLETE = "POLICY_CONTEXT_INCOMPLETE"
    # Audit trail (SPEC §4)
    AUD_001 = "AUD-001"
    AUD_002 = "AUD-002"
    AUD_003 = "AUD-003"
    AUD_004 = "AUD-004"
    AUD_005 = "AUD-005"
    AUD_006 = "AUD-006"
    AUD_007 = "AUD-007"
    AUD_008 = "AUD-008"
    # Sources and health checks
    BUDGET_DATA_CORRUPT = "BUDGET_DATA_CORRUPT"
    BUDGET_REPORT_UNAVAILABLE = "BUDGET_REPORT_UNAVAILABLE"
    EXCHANGE_UNREACHABLE = "EXCHANGE_UNREACHABLE"
    MARKET_DATA_STALE = "MARKET_DATA_STALE"
    EXCHANGE_TIME_DRIFT = "EXCHANGE_TIME_DRIFT"
    EXCHANGE_TIME_UNAVAILABLE = "EXCHANGE_TIME_UNAVAILABLE"
    FEED_DISCONNECTED = "FEED_DISCONNECTED"
    RECONCILIATION_PENDING = "RECONCILIATION_PENDING"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    NOT_CONFIGURED = "NOT_CONFIGURED"
    CHECK_OK = "CHECK_OK"
    RISK_DRAWDOWN = "RISK_DRAWDOWN"
    RISK_DAILY_LOSS = "RISK_DAILY_LOSS"
    RISK_EXPOSURE = "RISK_EXPOSURE"
    RISK_OPEN_ORDERS = "RISK_OPEN_ORDERS"
    SHARED_STATE_UNAVAILABLE = "SHARED_STATE_UNAVAILABLE"
    # Signals, execution, exchange (SPEC §5)
    ORDER_WOULD_INCREASE_RISK = "ORDER_WOULD_INCREASE_RISK"
    INTENT_NOT_PERMITTED = "INTENT_NOT_PERMITTED"
    AI_CONFIDENCE_OVERRIDE_BLOCKED = "AI_CONFIDENCE_OVERRIDE_BLOCKED"
    POLICY_LAYER_DISABLED = "POLICY_LAYER_DISABLED"
    LEGACY_CONFIDENCE_TOO_LOW = "LEGACY_CONFIDENCE_TOO_LOW"
    PARTIAL_FILL_DISCREPANCY = "PARTIAL_FILL_DISCREPANCY"
    RECONCILIATION_COMPLETE = "RECONCILIATION_COMPLETE"
    PERMIT_INVALID = "PERMIT_INVALID"
    PERMIT_UNKNOWN = "PERMIT_UNKNOWN"
    PERMIT_EXPIRED = "PERMIT_EXPIRED"
    PERMIT_ALREADY_REPORTED = "PERMIT_ALREADY_REPORTED"
    PERMIT_REPORT_INVALID = "PERMIT_REPORT_INVALID"
    SIGNAL_INVALID = "SIGNAL_INVALID"
    SIGNAL_DUPLICATE = "SIGNAL_DUPLICATE"
    SIGNAL_REPLAYED = "SIGNAL_REPLAYED"
    HANDLER_FAILED = "HANDLER_FAILED"
    EXCHANGE_ERROR = "EXCHANGE_ERROR"
    EXCHANGE_ORDER_REJECTED = "EXCHANGE_ORDER_REJECTED"
    EXCHANGE_BAD_RESPONSE = "EXCHANGE_BAD_RESPONSE"
    DRY_RUN_ISOLATION = "DRY_RUN_ISOLATION"
    EXCHANGE_ORDER_NOT_FOUND = "EXCHANGE_ORDER_NOT_FOUND"
    EXCHANGE_AUTH_FAILED = "EXCHANGE_AUTH_FAILED"
    # LIVE preflight, account health, start from the exchange's truth (issue 13)
    EXCHANGE_ACCOUNT_UNREADABLE = "EXCHANGE_ACCOUNT_UNREADABLE"
    PREFLIGHT_FAILED = "PREFLIGHT_FAILED"
    PREFLIGHT_BALANCES_UNREADABLE = "PREFLIGHT_BALANCES_UNREADABLE"
    PREFLIGHT_OPEN_ORDERS_UNREADABLE = "PREFLIGHT_OPEN_ORDERS_UNREADABLE"
    PREFLIGHT_SYMBOL_UNKNOWN = "PREFLIGHT_SYMBOL_UNKNOWN"
    PREFLIGHT_SYMBOL_RULES_UNAVAILABLE = "PREFLIGHT_SYMBOL_RULES_UNAVAILABLE"
    START_STATE_UNREADABLE = "START_STATE_UNREADABLE"
    START_RESTING_ORDERS_ADOPTED = "START_RESTING_ORDERS_ADOPTED"
    START_POSITION_MISMATCH = "START_POSITION_MISMATCH"
    # Feed and lockdown (SPEC §6)
    SSE_RECONNECT_EXHAUSTED = "SSE_RECONNECT_EXHAUSTED"
    L6_LOCKDOWN = "L6_LOCKDOWN"
    # Operator surfaces (SPEC §7)
    AUTH_INVALID = "AUTH_INVALID"
    OPERATOR_API_DISABLED = "OPERATOR_API_DISABLED"
    OPERATOR_ID_REQUIRED = "OPERATOR_ID_REQUIRED"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    INPUT_INVALID_JSON = "INPUT_INVALID_JSON"
    INPUT_INVALID_VALUE = "INPUT_INVALID_VALUE"
    CONFIG_INVALID = "CONFIG_INVALID"
    LIVE_MODE_REFUSED = "LIVE_MODE_REFUSED"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    WORKERS_UNSUPPORTED = "WORKERS_UNSUPPORTED"
    KILL_SWITCH_ENGAGED = "KILL_SWITCH_ENGAGED"
    KILL_SWITCH_RELEASED = "KILL_SWITCH_RELEASED"
    LATCH_RESET = "LATCH_RESET"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNREACHABLE = "SERVICE_UNREACHABLE"
    ROUTE_NOT_FOUND = "ROUTE_NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    # Failure scenario simulator (SPEC §8)
    FSS_001 = "FSS-001"
    FSS_002 = "FSS-002"
    # Runbook (SPEC §9)
    RUNBOOK_COMMAND_INVALID = "RUNBOOK_COMMAND_INVALID"
    # Alerts (SPEC §10)
    ALERT_TEST = "ALERT_TEST"
    ALERT_DELIVERY_FAILED = "ALERT_DELIVERY_FAILED"
    ALERT_DROPPED = "ALERT_DROPPED"
    ALERT_URL_INVALID = "ALERT_URL_INVALID"
    EXCHANGE_TIME_DRIFT_RESOLVED = "EXCHANGE_TIME_DRIFT_RESOLVED"
    # Pre-trade order controls (SPEC §10)
    ORDER_BELOW_MINIMUM = "ORDER_BELOW_MINIMUM"
    RISK_PRICE_COLLAR = "RISK_PRICE_COLLAR"
    RISK_ORDER_NOTIONAL = "RISK_ORDER_NOTIONAL"
    RISK_ORDER_RATE = "RISK_ORDER_RATE"
    RISK_DUPLICATE_ORDER = "RISK_DUPLICATE_ORDER"
    SYMBOL_RULES_UNAVAILABLE = "SYMBOL_RULES_UNAVAILABLE"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What a code means and what the operator should do about it."""

    meaning: str
    action: str


def _info(meaning: str, action: str) -> CodeInfo:
    return CodeInfo(meaning=meaning, action=action)


_CHECK_CONFIG = "Check the configuration named in the message and restart."

CODE_INFO: dict[str, CodeInfo] = {
    # Decisions
    "ALLOW_ALL_GATES_PASSED": _info("Every gate passed; all intents may proceed.", "None."),
    "HALT_KILL_SWITCH": _info(
        "The kill switch is engaged; nothing new is sent and resting orders are cancelled.",
        "Find why it was engaged (`tradeguard status`), fix it, then `tradeguard kill off` "
        "and `tradeguard latch reset`.",
    ),
    "HALT_BUDGET_HARD_STOP": _info(
        "The operating budget is exhausted, corrupt or at a CRITICAL/OVER_BUDGET risk level.",
        "Check the budget report and the cost tracker that writes it; reset the latch once fixed.",
    ),
    "HALT_BUDGET_RDS_EXCEEDED": _info(
        "Today's spend is above the recommended daily spend.",
        "Wait for the next day's report or raise the daily spend in the cost tracker.",
    ),
    "HALT_BUDGET_STALE_DATA": _info(
        "The budget report is older than the allowed age or dated in the future.",
        "Make the cost tracker write a fresh report; check its clock.",
    ),
    "HALT_RISK_CRITICAL": _info(
        "Portfolio risk is CRITICAL (drawdown, daily loss, exposure or open orders).",
        "Review positions; reduce exposure by hand if needed; reset the latch when risk is back.",
    ),
    "NEUTRAL_HEALTH_YELLOW": _info(
        "A health check is degraded; only exit intents pass.",
        "Look at `health_checks` in `tradeguard status` and fix the named check.",
    ),
    "NEUTRAL_HEALTH_RED": _info(
        "A health check failed hard (exchange or audit store); only exit intents pass.",
        "Restore the exchange connection or the audit database named in `health_checks`.",
    ),
    "HALT_LATCHED": _info(
        "An earlier HALT is latched; gates may pass now but trading stays halted.",
        "Confirm the cause is fixed, then `tradeguard latch reset --operator ID --reason TEXT` "
        "or wait for the re-validation window.",
    ),
    "HALT_CONTEXT_INCOMPLETE": _info(
        "A policy source did not answer; the gate fails closed.",
        "See the TPP code in the logs for which source failed and restore it.",
    ),
    # Context
    "TPP-001": _info("The policy context could not be built at all.", "Check the service logs."),
    "TPP-002": _info(
        "The kill switch state could not be read; treated as engaged.",
        "Check the database named by TRADEGUARD_DATABASE_URL.",
    ),
    "TPP-003": _info(
        "The budget source failed; treated as HARD_STOP.",
        "Check TRADEGUARD_BUDGET_REPORT and the report it points at.",
    ),
    "TPP-004": _info(
        "The health module failed; treated as RED.", "Check the service logs for the cause."
    ),
    "TPP-005": _info(
        "The risk governor failed; treated as CRITICAL.",
        "Check the exchange balances and the position book.",
    ),
    "POLICY_CONTEXT_INCOMPLETE": _info(
        "At least one policy source failed while building a context.",
        "Read the TPP code logged beside it.",
    ),
    # Audit
    "AUD-001": _info("An UPDATE of an audit row was refused.", "Audit rows are append-only."),
    "AUD-002": _info("A DELETE of an audit row was refused.", "Audit rows are append-only."),
    "AUD-003": _info("A TRUNCATE of an audit table was refused.", "Audit rows are append-only."),
    "AUD-004": _info(
        "The hash chain is broken: a row was changed, removed or inserted.",
        "Treat as an incident: stop trading, preserve the database, compare with checkpoints.",
    ),
    "AUD-005": _info(
        "The chain no longer matches a checkpoint (rows removed from the end or rewritten).",
        "Treat as an incident: stop trading and restore from backup.",
    ),
    "AUD-006": _info(
        "The audit store cannot record; the gate refuses every order.",
        "Restore the database; trading resumes once records can be written.",
    ),
    "AUD-007": _info(
        "A checkpoint signature does not verify with the configured key.",
        "Treat as an incident: the checkpoint file or key was altered.",
    ),
    "AUD-008": _info(
        "An export or checkpoint file cannot be read.", "Check the file path and format."
    ),
    # Sources
    "BUDGET_DATA_CORRUPT": _info(
        "The budget report is unparseable, incomplete, mistyped or has invalid numbers.",
        "Fix the cost tracker's output; the gate stays HALT until a valid report arrives.",
    ),
    "BUDGET_REPORT_UNAVAILABLE": _info(
        "The configured budget report cannot be read (missing file, HTTP error).",
        "Check TRADEGUARD_BUDGET_REPORT points at a reachable report.",
    ),
    "EXCHANGE_UNREACHABLE": _info(
        "No successful exchange call within the exchange timeout.",
        "Check network and exchange status pages.",
    ),
    "MARKET_DATA_STALE": _info(
        "The newest tick of a traded symbol is older than the allowed age.",
        "Check the market data feed and the exchange ticker.",
    ),
    "EXCHANGE_TIME_DRIFT": _info(
        "The local clock differs from the exchange clock by more than the tolerance.",
        "Check NTP (`chronyc tracking` or `timedatectl`); run `tradeguard time check`.",
    ),
    "EXCHANGE_TIME_UNAVAILABLE": _info(
        "The exchange time endpoint did not answer or answered garbage.",
        "Check exchange connectivity; run `tradeguard time check`.",
    ),
    "FEED_DISCONNECTED": _info(
        "The event feed is disconnected and reconnecting.", "Check TRADEGUARD_EVENT_FEED_URL."
    ),
    "RECONCILIATION_PENDING": _info(
        "An order's fill differs from its request and is being reconciled.",
        "Wait for reconciliation; if it lasts, compare positions with the exchange.",
    ),
    "AUDIT_UNAVAILABLE": _info(
        "The audit store is not writable.", "Restore the database named by the URL."
    ),
    "NOT_CONFIGURED": _info(
        "An optional safeguard is not configured and is not enforced.",
        "Configure it before LIVE trading (see the runbook's preconditions).",
    ),
    "CHECK_OK": _info("The health check passes.", "None."),
    "RISK_DRAWDOWN": _info(
        "Drawdown from the equity peak is over a threshold.", "Review positions and strategy."
    ),
    "RISK_DAILY_LOSS": _info(
        "Today's realised plus unrealised loss is over the daily limit.",
        "Stop for the day; review.",
    ),
    "RISK_EXPOSURE": _info(
        "Gross exposure is over the maximum, or an order (with those in flight) could take it"
        " there; that order is refused.",
        "Reduce positions or raise the limit.",
    ),
    "RISK_OPEN_ORDERS": _info(
        "Too many open orders, or an order that adds risk would make too many (resting or in"
        " flight); that order is refused.",
        "Cancel stale orders; check the bot for a loop.",
    ),
    "SHARED_STATE_UNAVAILABLE": _info(
        "The account state shared on PostgreSQL (positions, orders in flight, the leader's"
        " published health) could not be read, locked or written, or is stale; an order that"
        " needed it is refused.",
        "Check the PostgreSQL database and the service logs; restart a worker that lost it.",
    ),
    # Execution
    "ORDER_WOULD_INCREASE_RISK": _info(
        "An exit-labelled order would flip or grow the position; refused.",
        "Fix the signal's quantity or side.",
    ),
    "INTENT_NOT_PERMITTED": _info(
        "The decision does not permit this intent (for example OPEN under NEUTRAL).",
        "None; the refusal is the safety behaviour.",
    ),
    "AI_CONFIDENCE_OVERRIDE_BLOCKED": _info(
        "A signal with confidence above 99 met a HALT and was refused anyway.",
        "None; confidence never overrides the gate.",
    ),
    "POLICY_LAYER_DISABLED": _info(
        "The policy layer is disabled by configuration; legacy confidence rule in force.",
        "Set TRADEGUARD_POLICY_ENABLED=true.",
    ),
    "LEGACY_CONFIDENCE_TOO_LOW": _info(
        "Policy disabled and the signal's confidence is below the legacy minimum.", "None."
    ),
    "PARTIAL_FILL_DISCREPANCY": _info(
        "Filled quantity differs from requested; reconciliation started.",
        "Watch for RECONCILIATION_COMPLETE.",
    ),
    "RECONCILIATION_COMPLETE": _info(
        "Reconciliation finished and the position book matches the exchange.", "None."
    ),
    "PERMIT_INVALID": _info(
        "The executor refused an order without a valid permit from the gate.",
        "Report a bug: only the gate may mint permits.",
    ),
    "PERMIT_UNKNOWN": _info(
        "A decide API report names a permit this service never issued (or issued before a"
        " restart); refused, nothing changed.",
        "Report with the permit_id of the decide answer; after a restart, ask again.",
    ),
    "PERMIT_EXPIRED": _info(
        "A decide API permit was not reported within TRADEGUARD_PERMIT_TTL_SECONDS; its"
        " reservation was freed (recorded) and a later report is refused.",
        "Place the order right after the decide answer and report it; raise the TTL if the"
        " bot is slow.",
    ),
    "PERMIT_ALREADY_REPORTED": _info(
        "A decide API permit's order was already reported in a final state; refused, nothing"
        " changed.",
        "None if it is a retry; otherwise check the bot for a reused permit_id.",
    ),
    "PERMIT_REPORT_INVALID": _info(
        "A decide API report is malformed or contradicts the permit (quantity above the"
        " permit, a fill that shrinks, another order id); refused, nothing changed.",
        "Fix the bot's report; the field is named.",
    ),
    "SIGNAL_INVALID": _info(
        "The signal failed validation; the fields are named.", "Fix the sender."
    ),
    "SIGNAL_DUPLICATE": _info(
        "The signal_id was seen before; the first result is returned.", "None."
    ),
    "SIGNAL_REPLAYED": _info(
        "A signal_id was reused with different content; refused.",
        "Give each signal a unique signal_id.",
    ),
    "HANDLER_FAILED": _info(
        "A registered legacy handler raised; isolated, the decision is unchanged.",
        "Fix the handler.",
    ),
    "EXCHANGE_ERROR": _info(
        "The exchange call failed (network, timeout, server error).", "Check exchange status."
    ),
    "EXCHANGE_ORDER_REJECTED": _info("The exchange rejected the order.", "Read the message."),
    "EXCHANGE_BAD_RESPONSE": _info(
        "The exchange answered something unparseable.", "Check the adapter and base URL."
    ),
    "DRY_RUN_ISOLATION": _info(
        "DRY_RUN mode: the order went to the paper exchange, never a real one.",
        "Set TRADEGUARD_EXECUTION_MODE=LIVE only after the runbook's transition steps.",
    ),
    "EXCHANGE_ORDER_NOT_FOUND": _info(
        "The exchange does not know the order (unknown id, or already closed for a cancel).",
        "Check the order id; reconciliation reads the order's final state.",
    ),
    "EXCHANGE_AUTH_FAILED": _info(
        "The exchange refused the API key or signature (HTTP 401/403): keys wrong, revoked or"
        " rotated. At run time the kill switch is engaged by `system:exchange-account`, so"
        " the decision is HALT and latched until an operator resets it.",
        "Fix TRADEGUARD_EXCHANGE_API_KEY / _API_SECRET and the key's permissions, run"
        " `tradeguard preflight`, then `tradeguard kill off` and `tradeguard latch reset`.",
    ),
    "EXCHANGE_ACCOUNT_UNREADABLE": _info(
        "The exchange account (balances, open orders) could not be read: timeout, server"
        " error or garbage; health check `exchange_account` is RED, so only exits pass.",
        "Check the exchange's status page and the network; trading resumes once a read works.",
    ),
    "PREFLIGHT_FAILED": _info(
        "`tradeguard preflight` (run by `tradeguard run` in LIVE) found a failing check; LIVE"
        " refused to start.",
        "Run `tradeguard preflight --json`, fix each check's code as its action says, retry.",
    ),
    "PREFLIGHT_BALANCES_UNREADABLE": _info(
        "Preflight: the account balances could not be read.",
        "Check the key's read permission and the exchange's status; rerun the preflight.",
    ),
    "PREFLIGHT_OPEN_ORDERS_UNREADABLE": _info(
        "Preflight: the account's open orders could not be read.",
        "Check the key's read permission and the exchange's status; rerun the preflight.",
    ),
    "PREFLIGHT_SYMBOL_UNKNOWN": _info(
        "Preflight: a configured symbol is not known to the exchange (its ticker is refused).",
        "Fix TRADEGUARD_SYMBOLS to the exchange's spelling (e.g. BTCZAR on VALR).",
    ),
    "PREFLIGHT_SYMBOL_RULES_UNAVAILABLE": _info(
        "Preflight: a configured symbol's trading rules (quantity step, minimums, price tick)"
        " could not be loaded from the exchange.",
        "Check the symbol's spelling and the exchange's status; rerun the preflight.",
    ),
    "START_STATE_UNREADABLE": _info(
        "At start the resting orders or balances could not be read from the exchange; LIVE"
        " refuses to accept signals without them.",
        "Restore the exchange connection and the keys, then start again.",
    ),
    "START_RESTING_ORDERS_ADOPTED": _info(
        "At start, orders already resting on the exchange were counted by the exposure and"
        " open-orders caps (and are cancelled by the kill switch).",
        "None; check they are expected (`tradeguard status`, the exchange's UI).",
    ),
    "START_POSITION_MISMATCH": _info(
        "At start the exchange disagrees with the audit trail's last known positions or"
        " resting orders; recorded in order_audit (RECONCILED).",
        "Compare the account with `tradeguard audit export`; fix by hand before trading on.",
    ),
    "SSE_RECONNECT_EXHAUSTED": _info(
        "The event feed failed to reconnect 5 times in a row; L6 lockdown.",
        "Restore the feed, then `tradeguard kill off` and `tradeguard latch reset`.",
    ),
    "L6_LOCKDOWN": _info(
        "The system is in L6 lockdown (kill switch engaged by the system).",
        "Follow the post-incident checklist.",
    ),
    "AUTH_INVALID": _info("Missing or wrong signature, passphrase or token.", "Check secrets."),
    "OPERATOR_API_DISABLED": _info(
        "No operator token is configured, so operator endpoints are disabled.",
        "Set TRADEGUARD_OPERATOR_TOKEN.",
    ),
    "OPERATOR_ID_REQUIRED": _info(
        "An operator action needs a non-empty operator id and reason.", "Pass --operator."
    ),
    "BODY_TOO_LARGE": _info("The request body is over 64 KiB.", "Send a smaller body."),
    "INPUT_INVALID_JSON": _info("The input is not valid JSON.", "Fix the input."),
    "INPUT_INVALID_VALUE": _info(
        "A field is missing, mistyped or out of its domain; the field is named.", "Fix it."
    ),
    "CONFIG_INVALID": _info("The configuration is invalid; the setting is named.", _CHECK_CONFIG),
    "LIVE_MODE_REFUSED": _info(
        "LIVE mode refused to start: a required safeguard is missing.", _CHECK_CONFIG
    ),
    "DATABASE_UNAVAILABLE": _info(
        "The database cannot be reached.", "Check TRADEGUARD_DATABASE_URL and the server."
    ),
    "WORKERS_UNSUPPORTED": _info(
        "More than one worker was asked for on a database that cannot share the account state"
        " between processes (SQLite or memory); the service does not start.",
        "Run one worker on SQLite, or use PostgreSQL (TRADEGUARD_DATABASE_URL) for several.",
    ),
    "KILL_SWITCH_ENGAGED": _info("The kill switch was engaged.", "See the actor and reason."),
    "KILL_SWITCH_RELEASED": _info("The kill switch was released.", "Reset the latch next."),
    "LATCH_RESET": _info("An operator reset the HALT latch.", "None."),
    "SERVICE_UNREACHABLE": _info(
        "The tradeguard service did not answer at the given URL.",
        "Start it with `tradeguard run` and check the --url / TRADEGUARD_HOST and _PORT.",
    ),
    "ROUTE_NOT_FOUND": _info(
        "No such route or resource on this service (HTTP 404).",
        "Check the URL against the API docs at /docs.",
    ),
    "METHOD_NOT_ALLOWED": _info(
        "The route exists but not for this HTTP method (HTTP 405).",
        "Check the method against the API docs at /docs.",
    ),
    "INTERNAL_ERROR": _info(
        "An unexpected error in the service; the request was refused and nothing executed.",
        "Report it with the service logs around the correlation id.",
    ),
    "FSS-001": _info(
        "A failure scenario could not inject its fault and was aborted.",
        "Check the simulator's environment (ports, files).",
    ),
    "FSS-002": _info(
        "A failure scenario's expectation was violated; the message names it.",
        "Do not go LIVE: the safety behaviour is broken.",
    ),
    "RUNBOOK_COMMAND_INVALID": _info(
        "The runbook names a command or option the CLI does not have; generation refused.",
        "Fix the runbook template or register the missing command, then regenerate.",
    ),
    "ALERT_TEST": _info(
        "A test alert sent by `tradeguard alerts test`.", "None: it proves the channel works."
    ),
    "ALERT_DELIVERY_FAILED": _info(
        "An alert could not be delivered to a target after every retry.",
        "Run `tradeguard alerts test`; check the target (scheme shown) and the network.",
    ),
    "ALERT_DROPPED": _info(
        "An alert was dropped because its target's queue was full (a storm or a dead target).",
        "Check `tradeguard_alerts_total` and the target; the audit trail still has the event.",
    ),
    "ALERT_URL_INVALID": _info(
        "An entry of TRADEGUARD_ALERT_URLS is not a URL apprise can notify.",
        "Fix the entry named by its position and scheme; run `tradeguard alerts test`.",
    ),
    "EXCHANGE_TIME_DRIFT_RESOLVED": _info(
        "The exchange clock drift is back within tolerance.", "None."
    ),
    # Pre-trade order controls
    "ORDER_BELOW_MINIMUM": _info(
        "After rounding down to the symbol's quantity step, the order is below the venue's"
        " minimum quantity or minimum notional (or cannot be valued); refused, nothing sent."
        " Applies to exits too: the venue would refuse them.",
        "Send a larger quantity; dust below the minimum cannot be traded on that venue.",
    ),
    "RISK_PRICE_COLLAR": _info(
        "A LIMIT order that adds risk is priced further from the last trade price than"
        " TRADEGUARD_PRICE_COLLAR_PCT, or no last price is known; refused, nothing sent.",
        "Check the signal's price against the market; exits are never refused by the collar.",
    ),
    "RISK_ORDER_NOTIONAL": _info(
        "An order that adds risk is worth more than TRADEGUARD_MAX_ORDER_NOTIONAL (or cannot"
        " be valued); refused, nothing sent.",
        "Check the signal's size (a fat finger?) or raise the limit deliberately.",
    ),
    "RISK_ORDER_RATE": _info(
        "An order that adds risk would exceed the order rate per symbol or per account"
        " within TRADEGUARD_ORDER_RATE_WINDOW_SECONDS; refused, nothing sent.",
        "Check the bot for a loop; exits are never throttled.",
    ),
    "RISK_DUPLICATE_ORDER": _info(
        "The same symbol, side and quantity arrived from another signal_id within"
        " TRADEGUARD_DUPLICATE_ORDER_WINDOW_SECONDS; refused as a probable double send.",
        "Check the sender for duplicate alerts; send again after the window if it was meant.",
    ),
    "SYMBOL_RULES_UNAVAILABLE": _info(
        "The venue's rules of the symbol (quantity step, minimums, price tick) could not be"
        " read; orders that add risk are refused until they can be, exits go as asked.",
        "Check the exchange connection and that the symbol is listed; see the logs.",
    ),
}


def describe(code: str) -> CodeInfo:
    """Return the meaning and operator action for ``code``."""
    return CODE_INFO[str(code)]


ALL_CODES: tuple[str, ...] = tuple(c.value for c in PolicyReasonCode) + tuple(
    c.value for c in ErrorCode
)

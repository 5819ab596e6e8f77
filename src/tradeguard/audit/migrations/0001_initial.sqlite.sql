-- 0001 (SQLite): the four append-only, hash-chained audit tables and the control state.
-- Generated columns are derived from the hashed canonical JSON, so they cannot drift from it.

CREATE TABLE policy_decision_audit (
    seq INTEGER PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    canonical_json TEXT NOT NULL,
    correlation_id TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.correlation_id')) STORED,
    timestamp_utc TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.timestamp_utc')) STORED,
    policy_decision TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.policy_decision')) STORED,
    reason_code TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.reason_code')) STORED,
    blocking_gate TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.blocking_gate')) STORED,
    precedence_rank INTEGER GENERATED ALWAYS AS (json_extract(canonical_json, '$.precedence_rank')) STORED,
    ai_confidence NUMERIC GENERATED ALWAYS AS (CAST(json_extract(canonical_json, '$.ai_confidence') AS NUMERIC)) STORED,
    is_latched BOOLEAN GENERATED ALWAYS AS (json_extract(canonical_json, '$.is_latched')) STORED,
    CHECK (seq >= 1),
    CHECK (length(prev_hash) = 64 AND length(row_hash) = 64),
    CHECK (policy_decision IN ('ALLOW', 'NEUTRAL', 'HALT')),
    CHECK ((policy_decision = 'ALLOW') = (blocking_gate IS NULL)),
    CHECK ((blocking_gate IS NULL) = (precedence_rank IS NULL)),
    CHECK (precedence_rank IS NULL OR precedence_rank BETWEEN 1 AND 4),
    CHECK (blocking_gate IS NULL OR blocking_gate IN ('KILL_SWITCH', 'BUDGET', 'HEALTH', 'RISK')),
    CHECK (ai_confidence IS NULL OR (ai_confidence >= 0 AND ai_confidence <= 100)),
    CHECK (correlation_id IS NOT NULL AND timestamp_utc IS NOT NULL AND reason_code IS NOT NULL)
);
CREATE INDEX policy_decision_audit_correlation_id_idx ON policy_decision_audit (correlation_id);
CREATE INDEX policy_decision_audit_timestamp_utc_idx ON policy_decision_audit (timestamp_utc);
CREATE TRIGGER policy_decision_audit_no_update BEFORE UPDATE ON policy_decision_audit
BEGIN
    SELECT RAISE(ABORT, 'AUD-001: policy_decision_audit is append-only; UPDATE refused');
END;
CREATE TRIGGER policy_decision_audit_no_delete BEFORE DELETE ON policy_decision_audit
BEGIN
    SELECT RAISE(ABORT, 'AUD-002: policy_decision_audit is append-only; DELETE refused');
END;

CREATE TABLE signal_audit (
    seq INTEGER PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    canonical_json TEXT NOT NULL,
    signal_id TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.signal_id')) STORED,
    correlation_id TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.correlation_id')) STORED,
    timestamp_utc TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.timestamp_utc')) STORED,
    decision TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.decision')) STORED,
    reason_code TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.reason_code')) STORED,
    ai_confidence NUMERIC GENERATED ALWAYS AS (CAST(json_extract(canonical_json, '$.ai_confidence') AS NUMERIC)) STORED,
    policy_bypassed BOOLEAN GENERATED ALWAYS AS (json_extract(canonical_json, '$.policy_bypassed')) STORED,
    CHECK (seq >= 1),
    CHECK (length(prev_hash) = 64 AND length(row_hash) = 64),
    CHECK (signal_id IS NOT NULL AND correlation_id IS NOT NULL AND timestamp_utc IS NOT NULL),
    CHECK (ai_confidence IS NULL OR (ai_confidence >= 0 AND ai_confidence <= 100))
);
CREATE INDEX signal_audit_signal_id_idx ON signal_audit (signal_id);
CREATE INDEX signal_audit_correlation_id_idx ON signal_audit (correlation_id);
CREATE INDEX signal_audit_timestamp_utc_idx ON signal_audit (timestamp_utc);
CREATE TRIGGER signal_audit_no_update BEFORE UPDATE ON signal_audit
BEGIN
    SELECT RAISE(ABORT, 'AUD-001: signal_audit is append-only; UPDATE refused');
END;
CREATE TRIGGER signal_audit_no_delete BEFORE DELETE ON signal_audit
BEGIN
    SELECT RAISE(ABORT, 'AUD-002: signal_audit is append-only; DELETE refused');
END;

CREATE TABLE order_audit (
    seq INTEGER PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    canonical_json TEXT NOT NULL,
    correlation_id TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.correlation_id')) STORED,
    timestamp_utc TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.timestamp_utc')) STORED,
    event TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.event')) STORED,
    symbol TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.symbol')) STORED,
    client_order_id TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.client_order_id')) STORED,
    CHECK (seq >= 1),
    CHECK (length(prev_hash) = 64 AND length(row_hash) = 64),
    CHECK (event IN ('SUBMITTED', 'FILLED', 'PARTIALLY_FILLED', 'REJECTED', 'CANCELLED', 'RECONCILED', 'REFUSED')),
    CHECK (correlation_id IS NOT NULL AND timestamp_utc IS NOT NULL)
);
CREATE INDEX order_audit_correlation_id_idx ON order_audit (correlation_id);
CREATE INDEX order_audit_timestamp_utc_idx ON order_audit (timestamp_utc);
CREATE TRIGGER order_audit_no_update BEFORE UPDATE ON order_audit
BEGIN
    SELECT RAISE(ABORT, 'AUD-001: order_audit is append-only; UPDATE refused');
END;
CREATE TRIGGER order_audit_no_delete BEFORE DELETE ON order_audit
BEGIN
    SELECT RAISE(ABORT, 'AUD-002: order_audit is append-only; DELETE refused');
END;

CREATE TABLE operator_audit (
    seq INTEGER PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    canonical_json TEXT NOT NULL,
    correlation_id TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.correlation_id')) STORED,
    timestamp_utc TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.timestamp_utc')) STORED,
    action TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.action')) STORED,
    operator_id TEXT GENERATED ALWAYS AS (json_extract(canonical_json, '$.operator_id')) STORED,
    CHECK (seq >= 1),
    CHECK (length(prev_hash) = 64 AND length(row_hash) = 64),
    CHECK (length(operator_id) > 0 AND action IS NOT NULL AND timestamp_utc IS NOT NULL)
);
CREATE INDEX operator_audit_timestamp_utc_idx ON operator_audit (timestamp_utc);
CREATE TRIGGER operator_audit_no_update BEFORE UPDATE ON operator_audit
BEGIN
    SELECT RAISE(ABORT, 'AUD-001: operator_audit is append-only; UPDATE refused');
END;
CREATE TRIGGER operator_audit_no_delete BEFORE DELETE ON operator_audit
BEGIN
    SELECT RAISE(ABORT, 'AUD-002: operator_audit is append-only; DELETE refused');
END;

CREATE TABLE control_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TRIGGER control_state_no_delete BEFORE DELETE ON control_state
BEGIN
    SELECT RAISE(ABORT, 'AUD-002: control_state rows are never deleted; DELETE refused');
END;

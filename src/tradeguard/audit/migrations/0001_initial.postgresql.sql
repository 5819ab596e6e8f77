-- 0001 (PostgreSQL): the four append-only, hash-chained audit tables and the control state.
-- Generated columns are derived from the hashed canonical JSON, so they cannot drift from it.

CREATE FUNCTION tradeguard_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'AUD-001: % is append-only; UPDATE refused', TG_TABLE_NAME;
    ELSIF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'AUD-002: % is append-only; DELETE refused', TG_TABLE_NAME;
    END IF;
    RAISE EXCEPTION 'AUD-003: % is append-only; TRUNCATE refused', TG_TABLE_NAME;
END;
$$;

CREATE TABLE policy_decision_audit (
    seq BIGINT PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    canonical_json TEXT NOT NULL,
    correlation_id TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'correlation_id')) STORED,
    timestamp_utc TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'timestamp_utc')) STORED,
    policy_decision TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'policy_decision')) STORED,
    reason_code TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'reason_code')) STORED,
    blocking_gate TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'blocking_gate')) STORED,
    precedence_rank INTEGER GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'precedence_rank')::integer) STORED,
    ai_confidence NUMERIC GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'ai_confidence')::numeric) STORED,
    is_latched BOOLEAN GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'is_latched')::boolean) STORED,
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
    FOR EACH ROW EXECUTE FUNCTION tradeguard_refuse_change();
CREATE TRIGGER policy_decision_audit_no_delete BEFORE DELETE ON policy_decision_audit
    FOR EACH ROW EXECUTE FUNCTION tradeguard_refuse_change();
CREATE TRIGGER policy_decision_audit_no_truncate BEFORE TRUNCATE ON policy_decision_audit
    FOR EACH STATEMENT EXECUTE FUNCTION tradeguard_refuse_change();

CREATE TABLE signal_audit (
    seq BIGINT PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    canonical_json TEXT NOT NULL,
    signal_id TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'signal_id')) STORED,
    correlation_id TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'correlation_id')) STORED,
    timestamp_utc TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'timestamp_utc')) STORED,
    decision TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'decision')) STORED,
    reason_code TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'reason_code')) STORED,
    ai_confidence NUMERIC GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'ai_confidence')::numeric) STORED,
    policy_bypassed BOOLEAN GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'policy_bypassed')::boolean) STORED,
    CHECK (seq >= 1),
    CHECK (length(prev_hash) = 64 AND length(row_hash) = 64),
    CHECK (signal_id IS NOT NULL AND correlation_id IS NOT NULL AND timestamp_utc IS NOT NULL),
    CHECK (ai_confidence IS NULL OR (ai_confidence >= 0 AND ai_confidence <= 100))
);
CREATE INDEX signal_audit_signal_id_idx ON signal_audit (signal_id);
CREATE INDEX signal_audit_correlation_id_idx ON signal_audit (correlation_id);
CREATE INDEX signal_audit_timestamp_utc_idx ON signal_audit (timestamp_utc);
CREATE TRIGGER signal_audit_no_update BEFORE UPDATE ON signal_audit
    FOR EACH ROW EXECUTE FUNCTION tradeguard_refuse_change();
CREATE TRIGGER signal_audit_no_delete BEFORE DELETE ON signal_audit
    FOR EACH ROW EXECUTE FUNCTION tradeguard_refuse_change();
CREATE TRIGGER signal_audit_no_truncate BEFORE TRUNCATE ON signal_audit
    FOR EACH STATEMENT EXECUTE FUNCTION tradeguard_refuse_change();

CREATE TABLE order_audit (
    seq BIGINT PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    canonical_json TEXT NOT NULL,
    correlation_id TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'correlation_id')) STORED,
    timestamp_utc TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'timestamp_utc')) STORED,
    event TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'event')) STORED,
    symbol TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'symbol')) STORED,
    client_order_id TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'client_order_id')) STORED,
    CHECK (seq >= 1),
    CHECK (length(prev_hash) = 64 AND length(row_hash) = 64),
    CHECK (event IN ('SUBMITTED', 'FILLED', 'PARTIALLY_FILLED', 'REJECTED', 'CANCELLED', 'RECONCILED', 'REFUSED')),
    CHECK (correlation_id IS NOT NULL AND timestamp_utc IS NOT NULL)
);
CREATE INDEX order_audit_correlation_id_idx ON order_audit (correlation_id);
CREATE INDEX order_audit_timestamp_utc_idx ON order_audit (timestamp_utc);
CREATE TRIGGER order_audit_no_update BEFORE UPDATE ON order_audit
    FOR EACH ROW EXECUTE FUNCTION tradeguard_refuse_change();
CREATE TRIGGER order_audit_no_delete BEFORE DELETE ON order_audit
    FOR EACH ROW EXECUTE FUNCTION tradeguard_refuse_change();
CREATE TRIGGER order_audit_no_truncate BEFORE TRUNCATE ON order_audit
    FOR EACH STATEMENT EXECUTE FUNCTION tradeguard_refuse_change();

CREATE TABLE operator_audit (
    seq BIGINT PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    canonical_json TEXT NOT NULL,
    correlation_id TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'correlation_id')) STORED,
    timestamp_utc TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'timestamp_utc')) STORED,
    action TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'action')) STORED,
    operator_id TEXT GENERATED ALWAYS AS (((canonical_json::jsonb) ->> 'operator_id')) STORED,
    CHECK (seq >= 1),
    CHECK (length(prev_hash) = 64 AND length(row_hash) = 64),
    CHECK (length(operator_id) > 0 AND action IS NOT NULL AND timestamp_utc IS NOT NULL)
);
CREATE INDEX operator_audit_timestamp_utc_idx ON operator_audit (timestamp_utc);
CREATE TRIGGER operator_audit_no_update BEFORE UPDATE ON operator_audit
    FOR EACH ROW EXECUTE FUNCTION tradeguard_refuse_change();
CREATE TRIGGER operator_audit_no_delete BEFORE DELETE ON operator_audit
    FOR EACH ROW EXECUTE FUNCTION tradeguard_refuse_change();
CREATE TRIGGER operator_audit_no_truncate BEFORE TRUNCATE ON operator_audit
    FOR EACH STATEMENT EXECUTE FUNCTION tradeguard_refuse_change();

CREATE TABLE control_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TRIGGER control_state_no_delete BEFORE DELETE ON control_state
    FOR EACH ROW EXECUTE FUNCTION tradeguard_refuse_change();
CREATE TRIGGER control_state_no_truncate BEFORE TRUNCATE ON control_state
    FOR EACH STATEMENT EXECUTE FUNCTION tradeguard_refuse_change();

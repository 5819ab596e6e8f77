-- 0001 (PostgreSQL): the four append-only, hash-chained audit tables and the control state.
-- The query columns are filled from the hashed canonical JSON by a BEFORE INSERT trigger that
-- parses it once (whatever the client sends for them is overwritten), so they cannot drift from
-- it. Generated columns would parse it once per column: ~8x the server cost of an insert.

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
    correlation_id TEXT,
    timestamp_utc TEXT,
    policy_decision TEXT,
    reason_code TEXT,
    blocking_gate TEXT,
    precedence_rank INTEGER,
    ai_confidence NUMERIC,
    is_latched BOOLEAN,
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
CREATE FUNCTION policy_decision_audit_columns() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    doc jsonb := NEW.canonical_json::jsonb;
BEGIN
    NEW.correlation_id := (doc ->> 'correlation_id');
    NEW.timestamp_utc := (doc ->> 'timestamp_utc');
    NEW.policy_decision := (doc ->> 'policy_decision');
    NEW.reason_code := (doc ->> 'reason_code');
    NEW.blocking_gate := (doc ->> 'blocking_gate');
    NEW.precedence_rank := (doc ->> 'precedence_rank')::integer;
    NEW.ai_confidence := (doc ->> 'ai_confidence')::numeric;
    NEW.is_latched := (doc ->> 'is_latched')::boolean;
    RETURN NEW;
END;
$$;
CREATE TRIGGER policy_decision_audit_columns BEFORE INSERT ON policy_decision_audit
    FOR EACH ROW EXECUTE FUNCTION policy_decision_audit_columns();
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
    signal_id TEXT,
    correlation_id TEXT,
    timestamp_utc TEXT,
    decision TEXT,
    reason_code TEXT,
    ai_confidence NUMERIC,
    policy_bypassed BOOLEAN,
    CHECK (seq >= 1),
    CHECK (length(prev_hash) = 64 AND length(row_hash) = 64),
    CHECK (signal_id IS NOT NULL AND correlation_id IS NOT NULL AND timestamp_utc IS NOT NULL),
    CHECK (ai_confidence IS NULL OR (ai_confidence >= 0 AND ai_confidence <= 100))
);
CREATE INDEX signal_audit_signal_id_idx ON signal_audit (signal_id);
CREATE INDEX signal_audit_correlation_id_idx ON signal_audit (correlation_id);
CREATE INDEX signal_audit_timestamp_utc_idx ON signal_audit (timestamp_utc);
CREATE FUNCTION signal_audit_columns() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    doc jsonb := NEW.canonical_json::jsonb;
BEGIN
    NEW.signal_id := (doc ->> 'signal_id');
    NEW.correlation_id := (doc ->> 'correlation_id');
    NEW.timestamp_utc := (doc ->> 'timestamp_utc');
    NEW.decision := (doc ->> 'decision');
    NEW.reason_code := (doc ->> 'reason_code');
    NEW.ai_confidence := (doc ->> 'ai_confidence')::numeric;
    NEW.policy_bypassed := (doc ->> 'policy_bypassed')::boolean;
    RETURN NEW;
END;
$$;
CREATE TRIGGER signal_audit_columns BEFORE INSERT ON signal_audit
    FOR EACH ROW EXECUTE FUNCTION signal_audit_columns();
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
    correlation_id TEXT,
    timestamp_utc TEXT,
    event TEXT,
    symbol TEXT,
    client_order_id TEXT,
    CHECK (seq >= 1),
    CHECK (length(prev_hash) = 64 AND length(row_hash) = 64),
    CHECK (event IN ('SUBMITTED', 'FILLED', 'PARTIALLY_FILLED', 'REJECTED', 'CANCELLED', 'RECONCILED', 'REFUSED')),
    CHECK (correlation_id IS NOT NULL AND timestamp_utc IS NOT NULL)
);
CREATE INDEX order_audit_correlation_id_idx ON order_audit (correlation_id);
CREATE INDEX order_audit_timestamp_utc_idx ON order_audit (timestamp_utc);
CREATE FUNCTION order_audit_columns() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    doc jsonb := NEW.canonical_json::jsonb;
BEGIN
    NEW.correlation_id := (doc ->> 'correlation_id');
    NEW.timestamp_utc := (doc ->> 'timestamp_utc');
    NEW.event := (doc ->> 'event');
    NEW.symbol := (doc ->> 'symbol');
    NEW.client_order_id := (doc ->> 'client_order_id');
    RETURN NEW;
END;
$$;
CREATE TRIGGER order_audit_columns BEFORE INSERT ON order_audit
    FOR EACH ROW EXECUTE FUNCTION order_audit_columns();
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
    correlation_id TEXT,
    timestamp_utc TEXT,
    action TEXT,
    operator_id TEXT,
    CHECK (seq >= 1),
    CHECK (length(prev_hash) = 64 AND length(row_hash) = 64),
    CHECK (length(operator_id) > 0 AND action IS NOT NULL AND timestamp_utc IS NOT NULL)
);
CREATE INDEX operator_audit_timestamp_utc_idx ON operator_audit (timestamp_utc);
CREATE FUNCTION operator_audit_columns() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    doc jsonb := NEW.canonical_json::jsonb;
BEGIN
    NEW.correlation_id := (doc ->> 'correlation_id');
    NEW.timestamp_utc := (doc ->> 'timestamp_utc');
    NEW.action := (doc ->> 'action');
    NEW.operator_id := (doc ->> 'operator_id');
    RETURN NEW;
END;
$$;
CREATE TRIGGER operator_audit_columns BEFORE INSERT ON operator_audit
    FOR EACH ROW EXECUTE FUNCTION operator_audit_columns();
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

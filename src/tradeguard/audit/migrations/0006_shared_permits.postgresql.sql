-- 0006 (PostgreSQL): the decide API's permits, shared by every instance and worker on this
-- database (tradeguard.execution.shared_permits), so a report may land on any of them. A
-- mutable state table, not an audit table: no append-only triggers; the order_audit rows of
-- the reports and expiries are the record.
--
-- A report takes the permit's row with SELECT ... FOR UPDATE, checks its state, writes its
-- order_audit row and updates the permit before it commits: of two reports of one permit at
-- once, the second sees what the first one did (one final report wins, the other is refused).
-- Expiry takes due rows one at a time with FOR UPDATE SKIP LOCKED, so whichever process sweeps
-- writes the one CANCELLED / PERMIT_EXPIRED row of a permit. Closed rows are kept a day, to
-- tell an expired or reported permit from an unknown one.

CREATE TABLE shared_permits (
    permit_id TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES shared_accounts (account),
    signal TEXT NOT NULL,
    reservation_id TEXT,
    reserved_quantity NUMERIC,
    reserved_price NUMERIC,
    expires_at TIMESTAMPTZ NOT NULL,
    order_id TEXT,
    filled NUMERIC NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('HELD', 'EXPIRED', 'REPORTED')),
    closed_at TIMESTAMPTZ
);
CREATE INDEX shared_permits_due_idx ON shared_permits (account, expires_at)
    WHERE state = 'HELD' AND order_id IS NULL;
CREATE INDEX shared_permits_closed_idx ON shared_permits (account, closed_at)
    WHERE state <> 'HELD';

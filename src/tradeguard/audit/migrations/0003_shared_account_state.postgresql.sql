-- 0003 (PostgreSQL): the account state that every instance and worker on this database shares
-- (tradeguard.execution.shared_book), and what the elected leader publishes for the others
-- (tradeguard.workers). These are mutable state tables, not audit tables: no append-only
-- triggers. The audit trail stays the record of what was decided and sent.
--
-- A check takes the account row with SELECT ... FOR UPDATE, reads the positions and the live
-- reservations, runs the same checks as the in-memory book and writes its reservation in the
-- same transaction: instances on one database never pass a cap together.

CREATE TABLE shared_accounts (
    account TEXT PRIMARY KEY,
    day DATE NOT NULL,
    realised_total NUMERIC NOT NULL DEFAULT 0
);

CREATE TABLE shared_positions (
    account TEXT NOT NULL REFERENCES shared_accounts (account),
    symbol TEXT NOT NULL,
    quantity NUMERIC NOT NULL,
    average_entry NUMERIC,
    realised_today NUMERIC NOT NULL,
    PRIMARY KEY (account, symbol)
);

-- Each book (one per process) holds a lease it renews; when a lease has expired (its process
-- died), the next check deletes the owner's reservations: a dead owner's orders in flight stop
-- holding capacity after one lease time at most.
CREATE TABLE shared_book_owners (
    owner_id TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES shared_accounts (account),
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE shared_reservations (
    reservation_id TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES shared_accounts (account),
    owner_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
    remaining NUMERIC NOT NULL CHECK (remaining >= 0)
);
CREATE INDEX shared_reservations_account_idx ON shared_reservations (account);

-- What the leader of an account publishes for the other workers (market data stamps, the
-- exchange time check, exchange reachability, the event feed), with the time it did.
CREATE TABLE shared_status (
    account TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    payload TEXT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL
);

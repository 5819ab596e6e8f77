-- 0004 (PostgreSQL): the orders the order controls admitted recently, shared by every instance
-- and worker on this database (tradeguard.execution.shared_book), so the per-symbol and
-- per-account rate limits and the duplicate rule count the orders of all of them. A mutable
-- state table, not an audit table: no append-only triggers.
--
-- A check reads the rows of its account within the controls' memory and inserts the order it
-- admits in the same transaction that holds the account row (SELECT ... FOR UPDATE), so two
-- processes take turns and the second one counts the first one's order. ``admitted_at`` is the
-- wall clock (UTC) of the process that admitted it: monotonic clocks are not shared between
-- processes. Rows older than the memory are deleted with the sweep of expired leases.

CREATE TABLE shared_admitted_orders (
    id BIGSERIAL PRIMARY KEY,
    account TEXT NOT NULL REFERENCES shared_accounts (account),
    admitted_at TIMESTAMPTZ NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
    quantity NUMERIC NOT NULL,
    signal_id TEXT
);
CREATE INDEX shared_admitted_orders_account_idx ON shared_admitted_orders (account, admitted_at);

-- 0005 (PostgreSQL): resting orders in the shared account state (tradeguard.execution.shared_book).
--
-- A resting order (a LIMIT waiting for its price on the exchange, or one found resting at
-- start) is a row of shared_reservations with the id 'resting:<exchange order id>', held by the
-- account's exchange owner '<account>/exchange', whose lease never expires ('infinity'): it
-- keeps counting in the open-orders cap and the worst exposure of every process after the
-- process that placed it dies, until the exchange no longer lists it. ``placed_at`` (wall
-- clock, UTC) is when the row was written: an account read that began before it may have missed
-- the order, so that read never drops it. NULL for the reservations of orders in flight.

ALTER TABLE shared_reservations ADD COLUMN placed_at TIMESTAMPTZ;

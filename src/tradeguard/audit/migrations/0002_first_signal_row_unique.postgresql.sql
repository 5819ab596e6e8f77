-- 0002 (PostgreSQL): a signal_id has exactly one first row, the one its decision was recorded
-- with. Repeats are recorded too, as SIGNAL_DUPLICATE or SIGNAL_REPLAYED rows, and stay outside
-- the index. Two instances deciding the same new signal_id at once: the second one's
-- transaction fails on this index, so nothing of it is sent, and its retry is answered as a
-- duplicate.
DROP INDEX signal_audit_signal_id_idx;
CREATE UNIQUE INDEX signal_audit_first_signal_id_idx ON signal_audit (signal_id)
    WHERE reason_code NOT IN ('SIGNAL_DUPLICATE', 'SIGNAL_REPLAYED');

-- The dispatcher leases deliveries no worker has taken yet (store/deliveries.LEASE_FRESH). Over
-- webhook_deliveries_pending_idx that scan stepped over every delivery already leased and still
-- waiting in the queue: under a burst's backlog of tens of thousands, each lease (one per
-- notification, every 50 ms) read them all again, and PostgreSQL spent a core on it while the
-- web process waited for CPU. This index holds only the deliveries not yet handed out.
CREATE INDEX webhook_deliveries_fresh_idx ON webhook_deliveries (received_at)
    WHERE status = 'received' AND next_attempt_at IS NULL;

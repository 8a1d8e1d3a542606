-- Follow-up jobs (rollups, review, notifications, imports, live updates) that handling a
-- delivery asked for. They are written in the transaction that marks the delivery processed and
-- handed to Dramatiq afterwards by the workers' dispatcher, so a Redis outage after the commit
-- only delays them. A row is deleted once enqueued; `leased_until` keeps two dispatchers from
-- sending the same row at once, and lets another try once a failed send's lease has run out.
CREATE TABLE outbox (
    id uuid PRIMARY KEY,
    actor text NOT NULL,
    kwargs jsonb NOT NULL,
    delivery_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    leased_until timestamptz
);
CREATE INDEX outbox_created_idx ON outbox (created_at);

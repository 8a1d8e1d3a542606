-- Notifications: a claimed send is also an outbox row.
--
-- 001 keys notification_sends by (rule, channel, subject, window) so a send is claimed once. The
-- columns below let that claim carry the rendered message and its delivery state, so a send whose
-- job was lost (Redis down, worker killed) is found and re-enqueued by the scheduler's sweep, and
-- a retried job knows whether it still has work to do.
ALTER TABLE notification_sends
    ADD COLUMN installation_id  bigint,
    ADD COLUMN status           text NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'sent', 'failed')),
    ADD COLUMN payload          jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN attempts         integer NOT NULL DEFAULT 0,
    -- A worker sending it now holds the lease; an expired lease means that worker died.
    ADD COLUMN leased_until     timestamptz,
    ADD COLUMN next_attempt_at  timestamptz,
    ADD COLUMN sent_at          timestamptz,
    ADD COLUMN last_error       text;
CREATE INDEX notification_sends_pending_idx ON notification_sends (next_attempt_at)
    WHERE status = 'pending';

-- The in-app list pages by id for one user.
CREATE INDEX notifications_user_id_idx ON notifications (user_id, id DESC);

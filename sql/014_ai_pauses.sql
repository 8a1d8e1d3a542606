-- Publishing a stored review is its own step, retried until GitHub shows it: a review can be
-- `completed` (its result stored, its cost paid) yet not published (the completing PATCH met a
-- 502). Rows completed before this migration were published when they completed.
ALTER TABLE ai_reviews ADD COLUMN published_at timestamptz;
UPDATE ai_reviews SET published_at = completed_at WHERE status IN ('completed', 'skipped');

-- Anthropic refused an installation's calls for want of credit (HTTP 400 "Your credit balance
-- is too low ...", or a spend limit): no more calls until the balance changes. After
-- `probe_after`, one analysis may call again as a probe; success lifts the pause, another refusal
-- pushes `probe_after` back (doubling). Deleting the row (an admin's resume) lifts it at once.
CREATE TABLE ai_pauses (
    installation_id bigint PRIMARY KEY,
    reason          text NOT NULL CHECK (reason IN ('credit_balance', 'spend_limit')),
    message         text NOT NULL,
    paused_at       timestamptz NOT NULL DEFAULT now(),
    probe_after     timestamptz NOT NULL,
    refusals        integer NOT NULL DEFAULT 1
);

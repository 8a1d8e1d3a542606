-- cycle_time?explain lists the period's unreviewed merged PRs, newest first: they are a few
-- hundred among 200,000 facts, so a partial index finds them without walking every merge.
CREATE INDEX pull_request_cycle_unreviewed_idx ON pull_request_cycle (installation_id, merged_at DESC)
    INCLUDE (repository_id, author_id) WHERE unreviewed;

-- Change failure rate: each failure signal's probe for the latest success before it now also
-- reads that release's outcome (in the period? failed by its own status?), so no second lookup
-- by primary key is needed: the same descending index, covering those two columns.
CREATE INDEX releases_repository_latest_outcome_idx
    ON releases (repository_id, succeeded_at DESC NULLS LAST, id DESC)
    INCLUDE (source, installation_id, outcome_at, failed_at);
DROP INDEX releases_repository_latest_success_idx;

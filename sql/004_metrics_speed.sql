-- Metrics read path at two years and 200,000 PRs: exact medians without sorting every value,
-- change-failure attribution by index, the open-work snapshot in one query.
--
-- Exact percentiles (cycle-time stages, DORA lead time) in two steps:
--   1. `metric_histograms` holds, per (installation, series, day), the CUMULATIVE count of
--      values per `metrics_bucket` up to the end of that UTC day. Two rows per series (the
--      last at or before each bound) give the period's histogram, whatever the range: the
--      rank p·(n-1) falls in one bucket.
--   2. An expression index (installation_id, metrics_bucket(v), v) on the fact table reads that
--      bucket's values in order: `OFFSET rank LIMIT 2` returns the exact order statistics,
--      interpolated as percentile_cont does. No approximation: the buckets only locate ranks.
-- Series are built with the bot settings named in `settings_key`; the read path uses them only
-- when `metric_histogram_builds` says a full build with the current settings exists, else it
-- sorts the raw facts (the previous path).

-- Monotonic non-decreasing bucket of a duration in hours: 16 buckets per doubling from 2^-8 h
-- (14 s) up; everything below (zero, clock skew) is bucket 0; clamped at 400 (2^17 h).
CREATE FUNCTION metrics_bucket(v double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN v < 0.00390625 THEN 0
                ELSE least(floor(ln(v) / ln(2.0::double precision) * 16.0)::integer + 129, 400)
           END::smallint
$$;

CREATE TABLE metric_histograms (
    installation_id   bigint NOT NULL,
    series            text NOT NULL,
    day               date NOT NULL,            -- cumulative through the end of this UTC day
    n                 bigint NOT NULL,          -- cumulative count
    total             double precision NOT NULL DEFAULT 0,  -- cumulative sum of the values
    buckets           integer[] NOT NULL DEFAULT '{}',      -- cumulative count per bucket (1-based: bucket + 1)
    settings_key      text NOT NULL,
    computed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, series, day)
);

-- A full build of an installation's series exists with these bot settings (incremental
-- rebuilds extend it; a settings change forces a full one).
CREATE TABLE metric_histogram_builds (
    installation_id   bigint PRIMARY KEY,
    settings_key      text NOT NULL,
    built_at          timestamptz NOT NULL DEFAULT now()
);

-- Step 2 access paths: one per stage column, covering the read-time filters (bots, repository).
CREATE INDEX pull_request_cycle_cycle_time_rank_idx
    ON pull_request_cycle (installation_id, metrics_bucket(cycle_time), cycle_time)
    INCLUDE (merged_at, repository_id, author_login, author_is_bot);
CREATE INDEX pull_request_cycle_coding_rank_idx
    ON pull_request_cycle (installation_id, metrics_bucket(coding), coding)
    INCLUDE (merged_at, repository_id, author_login, author_is_bot) WHERE coding IS NOT NULL;
CREATE INDEX pull_request_cycle_pickup_rank_idx
    ON pull_request_cycle (installation_id, metrics_bucket(pickup), pickup)
    INCLUDE (merged_at, repository_id, author_login, author_is_bot) WHERE pickup IS NOT NULL;
CREATE INDEX pull_request_cycle_review_rank_idx
    ON pull_request_cycle (installation_id, metrics_bucket(review), review)
    INCLUDE (merged_at, repository_id, author_login, author_is_bot) WHERE review IS NOT NULL;
CREATE INDEX pull_request_cycle_merge_rank_idx
    ON pull_request_cycle (installation_id, metrics_bucket(merge), merge)
    INCLUDE (merged_at, repository_id, author_login, author_is_bot) WHERE merge IS NOT NULL;
CREATE INDEX pull_request_cycle_deploy_rank_idx
    ON pull_request_cycle (installation_id, metrics_bucket(deploy), deploy)
    INCLUDE (merged_at, repository_id, author_login, author_is_bot) WHERE deploy IS NOT NULL;
CREATE INDEX pull_request_cycle_time_to_approval_rank_idx
    ON pull_request_cycle (installation_id, metrics_bucket(time_to_approval), time_to_approval)
    INCLUDE (merged_at, repository_id, author_login, author_is_bot) WHERE time_to_approval IS NOT NULL;
CREATE INDEX release_commits_lead_rank_idx
    ON release_commits (installation_id, metrics_bucket(lead_hours), lead_hours)
    INCLUDE (released_at, repository_id, author_login, author_is_bot) WHERE lead_hours >= 0;

-- cycle_time?explain: the largest cycle times first, read in index order until the page is full.
CREATE INDEX pull_request_cycle_largest_idx
    ON pull_request_cycle (installation_id, cycle_time DESC, pull_request_id)
    INCLUDE (merged_at, repository_id, author_id, author_login, author_is_bot);

-- Change failure rate: each signal finds the latest success before it in its repository (or in
-- the installation) with one descending index probe.
CREATE INDEX releases_repository_latest_success_idx
    ON releases (repository_id, succeeded_at DESC NULLS LAST, id DESC) INCLUDE (source, installation_id);
CREATE INDEX releases_installation_latest_success_idx
    ON releases (installation_id, succeeded_at DESC, id DESC) INCLUDE (source, repository_id)
    WHERE succeeded_at IS NOT NULL;
CREATE INDEX pull_request_cycle_revert_idx ON pull_request_cycle (installation_id, merged_at)
    INCLUDE (repository_id) WHERE is_revert;

-- Time to restore and incident signals: incidents by label through a GIN index on the labels as
-- the service compares them (trimmed, lower case), instead of unnesting every issue's labels.
CREATE FUNCTION metrics_labels(labels text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(lower(trim(l))), '{}') FROM unnest(labels) AS l
$$;
CREATE INDEX issues_metrics_labels_idx ON issues USING gin (metrics_labels(labels)) WHERE deleted_at IS NULL;

-- Per-person totals over long ranges: cumulative developer_metrics per (installation, user, day)
-- (rows on the days the person has a developer_metrics row), so a period is two rows a person.
CREATE TABLE developer_totals (
    installation_id       bigint NOT NULL,
    user_id               bigint NOT NULL,
    day                   date NOT NULL,
    prs_opened            bigint NOT NULL,
    prs_merged            bigint NOT NULL,
    reviews_given         bigint NOT NULL,
    review_comments       bigint NOT NULL,
    commits               bigint NOT NULL,
    additions             bigint NOT NULL,
    deletions             bigint NOT NULL,
    cycle_time_hours_sum  double precision NOT NULL,
    cycle_time_count      bigint NOT NULL,
    PRIMARY KEY (installation_id, user_id, day)
);

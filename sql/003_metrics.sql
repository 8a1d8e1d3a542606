-- Metrics engine: compact per-item facts maintained by the rollup job, plus covering indexes.
--
-- Reads of long ranges must not touch the raw tables: a two-year median over 200,000 PRs reads
-- one narrow row per merged PR from `pull_request_cycle` (stages already computed by the pure
-- calculator), a deployment figure reads `releases`, a lead time reads `release_commits`.
-- Facts depend on the organisation's settings at the time they were computed (production
-- environment names, reviewer bot patterns, revert title patterns): changing settings calls for
-- a full recompute (`nightly_rollups(days=...)`). Bot *authors* are excluded at read time, with
-- the current settings, from the `*_login` / `*_is_bot` columns kept here.

-- One row per merged pull request: its cycle time and stages (hours), as `cycle_time.py` computes.
CREATE TABLE pull_request_cycle (
    pull_request_id       bigint PRIMARY KEY,
    installation_id       bigint NOT NULL,
    repository_id         bigint NOT NULL,
    number                integer NOT NULL,
    title                 text NOT NULL DEFAULT '',
    author_id             bigint,
    author_login          text,
    -- GitHub's own verdict (Bot account or [bot] login); patterns are applied at read time.
    author_is_bot         boolean NOT NULL DEFAULT false,
    is_revert             boolean NOT NULL DEFAULT false,
    merged_at             timestamptz NOT NULL,
    merge_commit_sha      text,
    cycle_time            double precision NOT NULL,
    coding                double precision,
    pickup                double precision,
    review                double precision,
    merge                 double precision,
    deploy                double precision,
    time_to_approval      double precision,
    draft                 double precision NOT NULL DEFAULT 0,
    unreviewed            boolean NOT NULL,
    first_review_at       timestamptz,
    approved_at           timestamptz,
    deployed_at           timestamptz,
    additions             integer,
    deletions             integer,
    computed_at           timestamptz NOT NULL DEFAULT now()
);
-- Covering: a period aggregate is an index-only scan (keep the table vacuumed: autovacuum does).
CREATE INDEX pull_request_cycle_period_idx ON pull_request_cycle (installation_id, merged_at)
    INCLUDE (repository_id, author_id, author_login, author_is_bot, cycle_time, coding, pickup,
             review, merge, deploy, time_to_approval, unreviewed, is_revert);
CREATE INDEX pull_request_cycle_repository_idx ON pull_request_cycle (repository_id, merged_at);
CREATE INDEX pull_request_cycle_author_idx ON pull_request_cycle (author_id, merged_at);

-- Production releases (dora.production_releases): deployments with a final status, and deploy
-- workflow runs of repositories that never deploy.
CREATE TABLE releases (
    source                text NOT NULL CHECK (source IN ('deployment', 'workflow_run')),
    id                    bigint NOT NULL,
    installation_id       bigint NOT NULL,
    repository_id         bigint NOT NULL,
    sha                   text NOT NULL,
    succeeded_at          timestamptz,
    failed_at             timestamptz,
    outcome_at            timestamptz NOT NULL,
    -- Newest committed_at of the default-branch commits this release contains (linear history).
    cut_at                timestamptz,
    commits               integer NOT NULL DEFAULT 0,
    PRIMARY KEY (source, id)
);
CREATE INDEX releases_period_idx ON releases (installation_id, outcome_at)
    INCLUDE (repository_id, succeeded_at, failed_at);
CREATE INDEX releases_success_idx ON releases (repository_id, succeeded_at) WHERE succeeded_at IS NOT NULL;
CREATE INDEX releases_installation_success_idx ON releases (installation_id, succeeded_at)
    WHERE succeeded_at IS NOT NULL;

-- Each commit's first release (lead time for changes).
CREATE TABLE release_commits (
    repository_id         bigint NOT NULL,
    sha                   text NOT NULL,
    installation_id       bigint NOT NULL,
    release_source        text NOT NULL,
    release_id            bigint NOT NULL,
    released_at           timestamptz NOT NULL,
    committed_at          timestamptz,
    lead_hours            double precision,
    author_login          text,
    author_is_bot         boolean NOT NULL DEFAULT false,
    PRIMARY KEY (repository_id, sha)
);
CREATE INDEX release_commits_period_idx ON release_commits (installation_id, released_at)
    INCLUDE (repository_id, lead_hours, author_login, author_is_bot);
CREATE INDEX release_commits_committed_idx ON release_commits (installation_id, committed_at)
    INCLUDE (repository_id);
CREATE INDEX release_commits_release_idx ON release_commits (release_source, release_id);

-- One row per milestone (sprint): completed points with the settings of the last recompute.
CREATE TABLE sprint_facts (
    milestone_id          bigint PRIMARY KEY,
    installation_id       bigint NOT NULL,
    repository_id         bigint NOT NULL,
    title                 text NOT NULL,
    state                 text NOT NULL,
    starts_at             timestamptz NOT NULL,
    ends_at               timestamptz NOT NULL,
    points                double precision NOT NULL DEFAULT 0,
    completed_issues      integer NOT NULL DEFAULT 0,
    open_issues           integer NOT NULL DEFAULT 0,
    not_planned_issues    integer NOT NULL DEFAULT 0,
    bot_issues            integer NOT NULL DEFAULT 0,
    computed_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sprint_facts_period_idx ON sprint_facts (installation_id, ends_at)
    INCLUDE (repository_id, state, points);

-- Rollup columns 001 lacks: what was excluded (bots, not planned, no verdict), so a figure read
-- from rollups can say how many items it left out and why, like one read from raw rows.
ALTER TABLE repository_stats
    ADD COLUMN prs_merged_bot        integer NOT NULL DEFAULT 0,
    ADD COLUMN issues_closed_bot     integer NOT NULL DEFAULT 0,
    ADD COLUMN issues_not_planned    integer NOT NULL DEFAULT 0,
    ADD COLUMN workflow_failures     integer NOT NULL DEFAULT 0,
    ADD COLUMN workflow_bot          integer NOT NULL DEFAULT 0,
    ADD COLUMN workflow_no_verdict   integer NOT NULL DEFAULT 0;

-- Installation-wide daily rollup: the default scope (all repositories) reads 730 rows for two
-- years instead of 200 repositories x 730 days.
CREATE TABLE installation_stats (LIKE repository_stats INCLUDING DEFAULTS);
ALTER TABLE installation_stats DROP COLUMN repository_id;
ALTER TABLE installation_stats ADD PRIMARY KEY (installation_id, day);

CREATE INDEX developer_metrics_day_idx ON developer_metrics (installation_id, day);
CREATE INDEX team_metrics_day_idx ON team_metrics (installation_id, day);

-- Raw-row access paths the rollup job and the snapshot metrics need.
CREATE INDEX commits_repository_time_idx ON commits (repository_id, committed_at);
CREATE INDEX pull_requests_repository_merged_idx ON pull_requests (repository_id, merged_at)
    WHERE merged_at IS NOT NULL;
CREATE INDEX pull_requests_open_idx ON pull_requests (installation_id) WHERE state = 'OPEN';
CREATE INDEX issues_open_idx ON issues (installation_id) WHERE state = 'OPEN' AND deleted_at IS NULL;
CREATE INDEX issues_installation_closed_idx ON issues (installation_id, closed_at)
    WHERE closed_at IS NOT NULL;
CREATE INDEX issues_repository_updated_idx ON issues (repository_id, github_updated_at);
CREATE INDEX pull_request_reviews_repository_idx ON pull_request_reviews (repository_id, submitted_at);
CREATE INDEX workflow_runs_repository_finished_idx
    ON workflow_runs (repository_id, (coalesce(completed_at, github_updated_at))) WHERE status = 'completed';
CREATE INDEX pull_requests_repository_closed_idx ON pull_requests (repository_id, closed_at)
    WHERE closed_at IS NOT NULL;
CREATE INDEX pull_requests_repository_created_idx ON pull_requests (repository_id, github_created_at);
CREATE INDEX issues_repository_created_idx ON issues (repository_id, github_created_at);
CREATE INDEX issues_repository_closed_idx ON issues (repository_id, closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX pull_request_review_comments_created_idx
    ON pull_request_review_comments (installation_id, github_created_at);
CREATE INDEX workflow_runs_unfinished_idx ON workflow_runs (installation_id, github_created_at)
    WHERE status IS DISTINCT FROM 'completed';
CREATE INDEX deployments_unfinished_idx ON deployments (installation_id, github_created_at)
    WHERE latest_state IS NULL OR latest_state IN ('pending', 'queued', 'in_progress');
CREATE INDEX workflow_runs_installation_finished_idx
    ON workflow_runs (installation_id, (coalesce(completed_at, github_updated_at))) WHERE status = 'completed';

-- DevMetrics data model.
--
-- Conventions:
--  * GitHub's numeric ids are primary keys (bigint). Every write is an upsert, so replaying a
--    delivery is harmless. Rows carry `github_updated_at` (or an equivalent version stamp) and an
--    upsert only overwrites when the incoming stamp is not older: deliveries arrive out of order.
--  * Every row that belongs to an installation carries `installation_id`; user-triggered queries
--    are always scoped by it. It is deliberately not a foreign key: events for an installation can
--    arrive before (or without) its `installation.created` delivery.
--  * Secrets at rest are Fernet tokens (bytea), never plain text.

-- GitHub accounts that install the app. A personal account is stored here too, as an
-- organisation of one, so every metric has the same owner shape.
CREATE TABLE organizations (
    id                bigint PRIMARY KEY,
    login             text NOT NULL,
    node_id           text,
    account_type      text NOT NULL DEFAULT 'Organization'
                      CHECK (account_type IN ('Organization', 'User', 'Enterprise')),
    name              text,
    avatar_url        text,
    html_url          text,
    -- Product settings: bot patterns, story-point labels, production environment names, AI budget.
    settings          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organizations_login_idx ON organizations (lower(login));

CREATE TABLE installations (
    id                    bigint PRIMARY KEY,
    account_id            bigint NOT NULL,
    account_login         text NOT NULL,
    account_type          text NOT NULL,
    app_id                bigint,
    app_slug              text,
    target_type           text,
    repository_selection  text,
    permissions           jsonb NOT NULL DEFAULT '{}'::jsonb,
    events                text[] NOT NULL DEFAULT '{}',
    installed_by_id       bigint,
    -- Marketplace plan, kept from marketplace_purchase events (newest effective_date wins).
    plan                  jsonb,
    plan_effective_at     timestamptz,
    suspended_at          timestamptz,
    suspended_by_id       bigint,
    deleted_at            timestamptz,
    github_created_at     timestamptz,
    github_updated_at     timestamptz,
    -- Version stamp of the last state change applied (event time), for newest-wins.
    state_changed_at      timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX installations_account_idx ON installations (account_id);

CREATE TABLE users (
    id                bigint PRIMARY KEY,
    login             text NOT NULL,
    node_id           text,
    type              text NOT NULL DEFAULT 'User',
    is_bot            boolean GENERATED ALWAYS AS (type = 'Bot' OR login LIKE '%[bot]') STORED,
    name              text,
    email             text,
    avatar_url        text,
    html_url          text,
    -- Set by github_app_authorization.revoked: the user withdrew the app's access.
    app_revoked_at    timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_login_idx ON users (lower(login));

CREATE TABLE memberships (
    installation_id   bigint NOT NULL,
    organization_id   bigint NOT NULL,
    user_id           bigint NOT NULL,
    role              text NOT NULL DEFAULT 'VIEWER'
                      CHECK (role IN ('ADMIN', 'MANAGER', 'DEVELOPER', 'VIEWER')),
    github_role       text,
    -- 'github' when derived from GitHub (owner, member); 'manual' when an admin set it.
    source            text NOT NULL DEFAULT 'github' CHECK (source IN ('github', 'manual')),
    removed_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE teams (
    id                bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    organization_id   bigint NOT NULL,
    slug              text NOT NULL,
    name              text NOT NULL,
    parent_id         bigint,
    deleted_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX teams_installation_idx ON teams (installation_id);

CREATE TABLE team_members (
    team_id           bigint NOT NULL,
    user_id           bigint NOT NULL,
    installation_id   bigint NOT NULL,
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE repositories (
    id                bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    owner_id          bigint,
    owner_login       text NOT NULL,
    name              text NOT NULL,
    full_name         text NOT NULL,
    node_id           text,
    private           boolean NOT NULL DEFAULT false,
    -- NULL until a full repository payload says (installation events carry a small object).
    fork              boolean,
    archived          boolean,
    default_branch    text,
    language          text,
    html_url          text,
    -- Users may disconnect a repository from metrics without uninstalling.
    connected         boolean NOT NULL DEFAULT true,
    -- Removed from the installation (installation_repositories.removed) or deleted on GitHub.
    removed_at        timestamptz,
    github_created_at timestamptz,
    github_updated_at timestamptz,
    pushed_at         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX repositories_installation_idx ON repositories (installation_id);
CREATE INDEX repositories_full_name_idx ON repositories (lower(full_name));

-- Every webhook delivery, stored before it is acknowledged. The body is the raw bytes GitHub
-- signed (bytea, not jsonb: parsing on the hot path is wasted work and the raw form replays
-- exactly), lz4-compressed when large (store/body_codec.py).
CREATE TABLE webhook_deliveries (
    delivery_id       text PRIMARY KEY,
    event             text NOT NULL,
    action            text,
    installation_id   bigint,
    hook_id           bigint,
    content_type      text NOT NULL DEFAULT 'application/json',
    body              bytea NOT NULL,
    -- 'lz4' (store/body_codec.py) or 'identity'; decode before use.
    body_encoding     text NOT NULL DEFAULT 'identity' CHECK (body_encoding IN ('identity', 'lz4')),
    status            text NOT NULL DEFAULT 'received'
                      CHECK (status IN ('received', 'processed', 'ignored', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz,
    last_error        text,
    received_at       timestamptz NOT NULL DEFAULT now(),
    processed_at      timestamptz
);
-- Bodies arrive compressed already: PostgreSQL need not try again.
ALTER TABLE webhook_deliveries ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (received_at)
    WHERE status = 'received';
CREATE INDEX webhook_deliveries_installation_idx ON webhook_deliveries (installation_id, received_at);

CREATE TABLE commits (
    repository_id     bigint NOT NULL REFERENCES repositories (id),
    sha               text NOT NULL,
    installation_id   bigint NOT NULL,
    -- NULL for pushed commits (push payloads carry a login, not an id): join users on login.
    author_id         bigint,
    author_login      text,
    author_name       text,
    author_email      text,
    committer_name    text,
    committer_email   text,
    message           text,
    authored_at       timestamptz,
    committed_at      timestamptz,
    additions         integer,
    deletions         integer,
    changed_files     integer,
    -- Every branch the commit was pushed to (a set, sorted, so delivery order does not matter).
    branches          text[] NOT NULL DEFAULT '{}',
    is_merge          boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, sha)
);
CREATE INDEX commits_installation_time_idx ON commits (installation_id, committed_at);
CREATE INDEX commits_author_login_idx ON commits (lower(author_login), committed_at);

CREATE TABLE pull_requests (
    id                     bigint PRIMARY KEY,
    installation_id        bigint NOT NULL,
    repository_id          bigint NOT NULL REFERENCES repositories (id),
    number                 integer NOT NULL,
    node_id                text,
    title                  text NOT NULL,
    body                   text,
    author_id              bigint,
    author_login           text,
    author_association     text,
    state                  text NOT NULL CHECK (state IN ('OPEN', 'CLOSED', 'MERGED')),
    draft                  boolean NOT NULL DEFAULT false,
    locked                 boolean NOT NULL DEFAULT false,
    base_ref               text,
    base_sha               text,
    head_ref               text,
    head_sha               text,
    head_repository_id     bigint,
    is_fork                boolean NOT NULL DEFAULT false,
    additions              integer,
    deletions              integer,
    changed_files          integer,
    commits_count          integer,
    comments_count         integer,
    review_comments_count  integer NOT NULL DEFAULT 0,
    labels                 text[] NOT NULL DEFAULT '{}',
    -- [{"id":..,"login":..,"kind":"user"|"team"}]
    requested_reviewers    jsonb NOT NULL DEFAULT '[]'::jsonb,
    assignee_ids           bigint[] NOT NULL DEFAULT '{}',
    milestone_id           bigint,
    merged_by_id           bigint,
    merge_commit_sha       text,
    html_url               text,
    github_created_at      timestamptz NOT NULL,
    github_updated_at      timestamptz NOT NULL,
    -- First time the PR left draft (or creation when it never was one); see the timeline for
    -- every draft interval.
    ready_for_review_at    timestamptz,
    first_commit_at        timestamptz,
    closed_at              timestamptz,
    merged_at              timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (repository_id, number)
);
CREATE INDEX pull_requests_installation_created_idx ON pull_requests (installation_id, github_created_at);
CREATE INDEX pull_requests_installation_merged_idx ON pull_requests (installation_id, merged_at)
    WHERE merged_at IS NOT NULL;
CREATE INDEX pull_requests_head_sha_idx ON pull_requests (repository_id, head_sha);
CREATE INDEX pull_requests_author_idx ON pull_requests (author_id, github_created_at);

-- What happened to a pull request and when (opened, draft toggles, review requests, ...), one
-- row per event, so cycle-time stages can exclude draft time and find the latest review request.
CREATE TABLE pull_request_events (
    pull_request_id   bigint NOT NULL,
    installation_id   bigint NOT NULL,
    kind              text NOT NULL,
    occurred_at       timestamptz NOT NULL,
    actor_id          bigint,
    subject           text NOT NULL DEFAULT '',
    details           jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (pull_request_id, kind, occurred_at, subject)
);

CREATE TABLE pull_request_reviews (
    id                bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    repository_id     bigint NOT NULL,
    pull_request_id   bigint NOT NULL,
    reviewer_id       bigint,
    reviewer_login    text,
    state             text NOT NULL
                      CHECK (state IN ('APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED', 'PENDING')),
    body              text,
    commit_id         text,
    author_association text,
    html_url          text,
    submitted_at      timestamptz,
    -- The pull request's updated_at in the delivery that carried this review: a per-PR clock
    -- that orders review edits and dismissals arriving out of order.
    version_at        timestamptz NOT NULL,
    -- Breaks ties on version_at: submitted (0) < edited (1) < dismissed (2).
    version_rank      smallint NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pull_request_reviews_pr_idx ON pull_request_reviews (pull_request_id, submitted_at);
CREATE INDEX pull_request_reviews_reviewer_idx ON pull_request_reviews (reviewer_id, submitted_at);
CREATE INDEX pull_request_reviews_installation_idx ON pull_request_reviews (installation_id, submitted_at);

CREATE TABLE pull_request_review_comments (
    id                bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    pull_request_id   bigint NOT NULL,
    review_id         bigint,
    user_id           bigint,
    path              text,
    github_created_at timestamptz,
    github_updated_at timestamptz NOT NULL,
    deleted_at        timestamptz
);
CREATE INDEX pull_request_review_comments_pr_idx ON pull_request_review_comments (pull_request_id);

CREATE TABLE milestones (
    id                bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    repository_id     bigint NOT NULL,
    number            integer NOT NULL,
    title             text NOT NULL,
    description       text,
    state             text NOT NULL CHECK (state IN ('OPEN', 'CLOSED')),
    creator_id        bigint,
    open_issues       integer,
    closed_issues     integer,
    due_on            timestamptz,
    github_created_at timestamptz,
    github_updated_at timestamptz NOT NULL,
    closed_at         timestamptz,
    deleted_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX milestones_repository_idx ON milestones (repository_id);

CREATE TABLE issues (
    id                bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    repository_id     bigint NOT NULL,
    number            integer NOT NULL,
    title             text NOT NULL,
    body              text,
    state             text NOT NULL CHECK (state IN ('OPEN', 'CLOSED')),
    state_reason      text,
    author_id         bigint,
    author_login      text,
    labels            text[] NOT NULL DEFAULT '{}',
    assignee_ids      bigint[] NOT NULL DEFAULT '{}',
    milestone_id      bigint,
    html_url          text,
    github_created_at timestamptz NOT NULL,
    github_updated_at timestamptz NOT NULL,
    closed_at         timestamptz,
    deleted_at        timestamptz,
    -- Set when the issue moved to another repository (issues.transferred).
    transferred_to    text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX issues_repository_idx ON issues (repository_id, number);
CREATE INDEX issues_installation_created_idx ON issues (installation_id, github_created_at);
CREATE INDEX issues_milestone_idx ON issues (milestone_id);

CREATE TABLE workflow_runs (
    id                bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    repository_id     bigint NOT NULL,
    workflow_id       bigint,
    name              text,
    event             text,
    head_branch       text,
    head_sha          text,
    status            text,
    conclusion        text,
    run_number        integer,
    run_attempt       integer,
    actor_id          bigint,
    pull_request_numbers integer[] NOT NULL DEFAULT '{}',
    html_url          text,
    github_created_at timestamptz,
    run_started_at    timestamptz,
    github_updated_at timestamptz NOT NULL,
    -- updated_at of the first delivery whose status was 'completed'.
    completed_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_runs_repository_idx ON workflow_runs (repository_id, github_created_at);
CREATE INDEX workflow_runs_installation_idx ON workflow_runs (installation_id, github_created_at);

CREATE TABLE deployments (
    id                bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    repository_id     bigint NOT NULL,
    sha               text NOT NULL,
    ref               text,
    task              text,
    environment       text NOT NULL,
    production_environment boolean,
    transient_environment  boolean,
    creator_id        bigint,
    description       text,
    -- The newest status seen (by its own created_at): 'success', 'failure', 'error', ...
    latest_state      text,
    latest_status_at  timestamptz,
    github_created_at timestamptz NOT NULL,
    github_updated_at timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployments_repository_idx ON deployments (repository_id, github_created_at);
CREATE INDEX deployments_installation_idx ON deployments (installation_id, github_created_at);

CREATE TABLE deployment_statuses (
    id                bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    repository_id     bigint NOT NULL,
    deployment_id     bigint NOT NULL,
    state             text NOT NULL,
    environment       text,
    creator_id        bigint,
    description       text,
    log_url           text,
    github_created_at timestamptz NOT NULL,
    github_updated_at timestamptz NOT NULL
);
CREATE INDEX deployment_statuses_deployment_idx ON deployment_statuses (deployment_id, github_created_at);

CREATE TABLE check_suites (
    id                bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    repository_id     bigint NOT NULL,
    app_id            bigint,
    app_slug          text,
    head_branch       text,
    head_sha          text,
    status            text,
    conclusion        text,
    pull_request_numbers integer[] NOT NULL DEFAULT '{}',
    github_created_at timestamptz,
    github_updated_at timestamptz NOT NULL
);
CREATE INDEX check_suites_head_idx ON check_suites (repository_id, head_sha);

CREATE TABLE check_runs (
    id                bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    repository_id     bigint NOT NULL,
    check_suite_id    bigint,
    app_id            bigint,
    app_slug          text,
    name              text NOT NULL,
    head_sha          text NOT NULL,
    status            text,
    conclusion        text,
    external_id       text,
    pull_request_numbers integer[] NOT NULL DEFAULT '{}',
    started_at        timestamptz,
    completed_at      timestamptz,
    -- check runs carry no updated_at; the newest of started/completed is the version stamp.
    version_at        timestamptz NOT NULL
);
CREATE INDEX check_runs_head_idx ON check_runs (repository_id, head_sha);

-- One analysis per (pull request, head, diff, prompt version): a rebase with the same diff is free.
CREATE TABLE ai_reviews (
    id                bigserial PRIMARY KEY,
    installation_id   bigint NOT NULL,
    repository_id     bigint NOT NULL,
    pull_request_id   bigint NOT NULL,
    head_sha          text NOT NULL,
    diff_hash         text NOT NULL,
    prompt_version    text NOT NULL,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'in_progress', 'completed', 'skipped', 'cancelled', 'failed')),
    skip_reason       text,
    source            text CHECK (source IN ('model', 'floor', 'floor_budget', 'floor_error')),
    risk_score        integer CHECK (risk_score BETWEEN 0 AND 100),
    floor_score       integer CHECK (floor_score BETWEEN 0 AND 100),
    complexity        text CHECK (complexity IN ('low', 'medium', 'high')),
    review_minutes    integer,
    summary           text,
    findings          jsonb NOT NULL DEFAULT '[]'::jsonb,
    floor_reasons     jsonb NOT NULL DEFAULT '[]'::jsonb,
    coverage          jsonb NOT NULL DEFAULT '{}'::jsonb,
    injection_flagged boolean NOT NULL DEFAULT false,
    model             text,
    input_tokens      integer NOT NULL DEFAULT 0,
    output_tokens     integer NOT NULL DEFAULT 0,
    cache_read_tokens integer NOT NULL DEFAULT 0,
    cache_write_tokens integer NOT NULL DEFAULT 0,
    cost_usd          numeric(12, 6) NOT NULL DEFAULT 0,
    check_run_id      bigint,
    comment_id        bigint,
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz,
    UNIQUE (pull_request_id, head_sha, diff_hash, prompt_version)
);
CREATE INDEX ai_reviews_installation_idx ON ai_reviews (installation_id, created_at);

-- Daily rollups, recomputed idempotently per (repository, day).
CREATE TABLE repository_stats (
    repository_id         bigint NOT NULL,
    day                   date NOT NULL,
    installation_id       bigint NOT NULL,
    prs_opened            integer NOT NULL DEFAULT 0,
    prs_merged            integer NOT NULL DEFAULT 0,
    prs_closed            integer NOT NULL DEFAULT 0,
    commits               integer NOT NULL DEFAULT 0,
    additions             bigint NOT NULL DEFAULT 0,
    deletions             bigint NOT NULL DEFAULT 0,
    reviews               integer NOT NULL DEFAULT 0,
    issues_opened         integer NOT NULL DEFAULT 0,
    issues_closed         integer NOT NULL DEFAULT 0,
    deployments           integer NOT NULL DEFAULT 0,
    failed_deployments    integer NOT NULL DEFAULT 0,
    workflow_runs         integer NOT NULL DEFAULT 0,
    workflow_successes    integer NOT NULL DEFAULT 0,
    cycle_time_hours_sum  double precision NOT NULL DEFAULT 0,
    cycle_time_count      integer NOT NULL DEFAULT 0,
    computed_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, day)
);
CREATE INDEX repository_stats_installation_idx ON repository_stats (installation_id, day);

CREATE TABLE developer_metrics (
    installation_id       bigint NOT NULL,
    user_id               bigint NOT NULL,
    day                   date NOT NULL,
    prs_opened            integer NOT NULL DEFAULT 0,
    prs_merged            integer NOT NULL DEFAULT 0,
    reviews_given         integer NOT NULL DEFAULT 0,
    review_comments       integer NOT NULL DEFAULT 0,
    commits               integer NOT NULL DEFAULT 0,
    additions             bigint NOT NULL DEFAULT 0,
    deletions             bigint NOT NULL DEFAULT 0,
    cycle_time_hours_sum  double precision NOT NULL DEFAULT 0,
    cycle_time_count      integer NOT NULL DEFAULT 0,
    computed_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, user_id, day)
);

CREATE TABLE team_metrics (
    installation_id       bigint NOT NULL,
    team_id               bigint NOT NULL,
    day                   date NOT NULL,
    prs_opened            integer NOT NULL DEFAULT 0,
    prs_merged            integer NOT NULL DEFAULT 0,
    reviews_given         integer NOT NULL DEFAULT 0,
    commits               integer NOT NULL DEFAULT 0,
    cycle_time_hours_sum  double precision NOT NULL DEFAULT 0,
    cycle_time_count      integer NOT NULL DEFAULT 0,
    computed_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, team_id, day)
);

CREATE TABLE notification_rules (
    id                bigserial PRIMARY KEY,
    installation_id   bigint NOT NULL,
    organization_id   bigint NOT NULL,
    name              text NOT NULL,
    type              text NOT NULL,
    conditions        jsonb NOT NULL DEFAULT '{}'::jsonb,
    channels          text[] NOT NULL,
    slack_channel     text,
    discord_webhook_url_enc bytea,
    email_recipients  text[] NOT NULL DEFAULT '{}',
    repository_ids    bigint[] NOT NULL DEFAULT '{}',
    labels            text[] NOT NULL DEFAULT '{}',
    authors           text[] NOT NULL DEFAULT '{}',
    enabled           boolean NOT NULL DEFAULT true,
    -- A channel that keeps failing flags the rule instead of being retried forever.
    flagged_at        timestamptz,
    flag_reason       text,
    created_by_id     bigint,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_rules_installation_idx ON notification_rules (installation_id, type);

-- One notification per (rule, channel, subject, window): the row is claimed before sending.
CREATE TABLE notification_sends (
    rule_id           bigint NOT NULL REFERENCES notification_rules (id) ON DELETE CASCADE,
    channel           text NOT NULL,
    subject_key       text NOT NULL,
    window_key        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, channel, subject_key, window_key)
);

CREATE TABLE notification_logs (
    id                bigserial PRIMARY KEY,
    installation_id   bigint NOT NULL,
    rule_id           bigint REFERENCES notification_rules (id) ON DELETE SET NULL,
    channel           text NOT NULL,
    subject_key       text NOT NULL,
    status            text NOT NULL CHECK (status IN ('sent', 'failed', 'retrying', 'suppressed')),
    attempt           integer NOT NULL DEFAULT 1,
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_logs_rule_idx ON notification_logs (rule_id, created_at);

-- In-app notifications.
CREATE TABLE notifications (
    id                bigserial PRIMARY KEY,
    installation_id   bigint NOT NULL,
    user_id           bigint NOT NULL,
    rule_id           bigint REFERENCES notification_rules (id) ON DELETE SET NULL,
    title             text NOT NULL,
    body              text NOT NULL DEFAULT '',
    url               text,
    read_at           timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_idx ON notifications (user_id, installation_id, created_at DESC);

-- GitHub user-to-server OAuth tokens, encrypted.
CREATE TABLE user_tokens (
    user_id              bigint PRIMARY KEY,
    access_token_enc     bytea NOT NULL,
    refresh_token_enc    bytea,
    expires_at           timestamptz,
    refresh_expires_at   timestamptz,
    revoked_at           timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Named API tokens for scripts; only a hash of the secret is kept.
CREATE TABLE api_tokens (
    id                text PRIMARY KEY,
    user_id           bigint NOT NULL,
    installation_id   bigint,
    name              text NOT NULL,
    token_hash        text NOT NULL UNIQUE,
    role              text CHECK (role IN ('ADMIN', 'MANAGER', 'DEVELOPER', 'VIEWER')),
    -- Minted by an operator (`devmetrics token create`): grants its installation and role by
    -- itself. A user's own token is always capped by what the user may see.
    grants_access     boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz,
    last_used_at      timestamptz,
    revoked_at        timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- App credentials registered through the manifest flow, encrypted (one row: this deployment's app).
CREATE TABLE app_credentials (
    id                   integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    app_id               bigint NOT NULL,
    slug                 text NOT NULL,
    html_url             text,
    client_id            text NOT NULL,
    client_secret_enc    bytea NOT NULL,
    private_key_enc      bytea NOT NULL,
    webhook_secret_enc   bytea NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);

-- Resumable history import: one cursor per repository and kind (pull_requests, commits, ...).
CREATE TABLE import_cursors (
    repository_id     bigint NOT NULL,
    kind              text NOT NULL,
    installation_id   bigint NOT NULL,
    cursor            text,
    items             integer NOT NULL DEFAULT 0,
    done              boolean NOT NULL DEFAULT false,
    since             timestamptz,
    error             text,
    started_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, kind)
);

-- Today's open work (review load, work in progress) per repository, kept by the rollup job
-- (an event on a repository recomputes its rows within the debounce window). The read path
-- sums these rows when every repository in scope has a build with the current bot settings,
-- else it counts the open pull requests and issues live (same SQL, metrics/open_work.py).
CREATE TABLE open_work_counts (
    installation_id   bigint NOT NULL,
    repository_id     bigint NOT NULL,
    section           text NOT NULL,     -- pull_requests | issues | review_requests | team_requests | ...
    key               text NOT NULL,     -- a login, a team, or an exclusion reason
    n                 bigint NOT NULL,
    PRIMARY KEY (installation_id, repository_id, section, key)
);

CREATE TABLE open_work_builds (
    repository_id     bigint PRIMARY KEY,
    installation_id   bigint NOT NULL,
    settings_key      text NOT NULL,
    computed_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX open_work_builds_installation_idx ON open_work_builds (installation_id);

-- One repository's open pull requests and issues, for the per-repository refresh.
CREATE INDEX pull_requests_repository_open_idx ON pull_requests (repository_id) WHERE state = 'OPEN';
CREATE INDEX issues_repository_open_idx ON issues (repository_id) WHERE state = 'OPEN' AND deleted_at IS NULL;

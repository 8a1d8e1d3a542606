"""Today's open work, counted in PostgreSQL: review load and work in progress.

The pure calculators in `calc/throughput.py` (`review_load`, `work_in_progress`) define these
figures over every open pull request and assigned issue. An organisation can have thousands of
those, so the read path asks PostgreSQL for the same figures instead: per-person counts, the
count of each exclusion reason, and at most `limit` items per list (oldest first), never every
item. `tests/test_metrics_open_work.py` checks the two agree on the same rows.

The bot rule runs once per distinct author, reviewer and assignee, not once per row; the rule
text of an excluded item comes from `bots.bot_rule`, as in the calculators.

`materialize.open_work_counts` stores `COUNTS_SQL` per repository; `counts` sums those rows when
they are built with the current bot settings for every repository in scope, else counts live.
"""

# SQL here is assembled from module constants only (never from input): S608 does not apply.
# ruff: noqa: S608
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from devmetrics_app.store.sql import bind

from .calc.bots import bot_rule
from .explain import Exclusion, Figure, Item
from .facts import OPEN_PULL_REQUESTS, bot_params, bot_sql, settings_key
from .settings import MetricsSettings

AUTHOR_BOT = "authored by a bot"
DRAFT = "draft"
REVIEWER_BOT = "reviewer is a bot"
TEAM_REQUEST = "team request (not a person)"
ASSIGNEE_BOT = "assignee is a bot"
# Exclusion reasons in the order the figures list them.
REVIEW_REASONS = (AUTHOR_BOT, DRAFT, REVIEWER_BOT, TEAM_REQUEST)
WIP_REASONS = (AUTHOR_BOT, ASSIGNEE_BOT)

# A requested reviewer is a GitHub bot account when a user with exactly that login says so
# (the lower() comparison lets users_login_idx find it).
_REVIEWER_FLAG = (
    "EXISTS (SELECT 1 FROM users b WHERE lower(b.login) = lower(d.login) AND b.login = d.login AND b.is_bot)"
)


def _bot(login: str, flag: str) -> str:
    """`facts.bot_sql` on the named bot settings."""
    return bot_sql(login, flag, "exclude_bots", "bot_patterns")


# Named parameters (store/sql.bind): :installation, :repositories (NULL: every connected one),
# :exclude_bots / :bot_patterns (the bot settings); the item lists add :limit.
_SNAPSHOT = f"""
WITH prs AS MATERIALIZED (
    SELECT p.id, p.number, p.repository_id, p.title, p.github_created_at AS opened, p.author_login,
           coalesce(u.is_bot, false) AS flag, p.draft, p.requested_reviewers
    {OPEN_PULL_REQUESTS}
),
authors AS MATERIALIZED (
    SELECT d.author_login, d.flag, d.n, {_bot("d.author_login", "d.flag")} AS bot
    FROM (SELECT coalesce(author_login, '') AS author_login, flag, count(*) AS n FROM prs GROUP BY 1, 2) d
),
-- Requests that wait on someone: a person (with a login) or a team, in the PR's order.
asks AS MATERIALIZED (
    SELECT p.id AS pull_request_id, p.opened, q.ord, q.kind, q.login, p.draft, a.bot AS author_bot
    FROM prs p
    JOIN authors a ON a.author_login = coalesce(p.author_login, '') AND a.flag = p.flag
    CROSS JOIN LATERAL ROWS FROM (jsonb_to_recordset(p.requested_reviewers) AS (kind text, login text))
        WITH ORDINALITY AS q(kind, login, ord)
    WHERE (q.kind = 'user' AND coalesce(q.login, '') <> '') OR q.kind = 'team'
),
reviewers AS MATERIALIZED (
    SELECT d.login, d.flag, {_bot("d.login", "d.flag")} AS bot
    FROM (SELECT d.login, {_REVIEWER_FLAG} AS flag
          FROM (SELECT DISTINCT login FROM asks WHERE kind = 'user') d) d
),
assigned AS MATERIALIZED (
    SELECT i.id, i.number, i.repository_id, i.title, i.github_created_at AS opened, ai.x AS user_id
    FROM issues i
    JOIN repositories r ON r.id = i.repository_id
    CROSS JOIN LATERAL (SELECT DISTINCT x FROM unnest(i.assignee_ids) AS x) ai
    WHERE i.installation_id = :installation AND i.state = 'OPEN' AND i.deleted_at IS NULL
      AND cardinality(i.assignee_ids) > 0
      AND r.installation_id = :installation AND r.connected AND r.removed_at IS NULL
      AND (:repositories::bigint[] IS NULL OR i.repository_id = ANY(:repositories::bigint[]))
),
assignees AS MATERIALIZED (
    SELECT u.id, u.login, u.is_bot AS flag, {_bot("u.login", "u.is_bot")} AS bot
    FROM users u WHERE u.id IN (SELECT user_id FROM assigned)
)
"""

COUNTS_SQL = (
    _SNAPSHOT
    + f"""
SELECT 'pull_requests' AS section, author_login AS key, sum(n)::bigint AS n FROM authors
WHERE NOT bot AND coalesce(author_login, '') <> '' GROUP BY author_login
UNION ALL
SELECT 'wip_excluded', '{AUTHOR_BOT}', sum(n)::bigint FROM authors
WHERE bot AND coalesce(author_login, '') <> ''
UNION ALL
SELECT 'issues', a.login, count(*) FROM assigned x JOIN assignees a ON a.id = x.user_id
WHERE NOT a.bot GROUP BY a.login
UNION ALL
SELECT 'wip_excluded', '{ASSIGNEE_BOT}', count(*) FROM assigned x JOIN assignees a ON a.id = x.user_id
WHERE a.bot
UNION ALL
SELECT 'issue_items', '', count(DISTINCT x.id) FROM assigned x JOIN assignees a ON a.id = x.user_id
WHERE NOT a.bot
UNION ALL
SELECT 'review_excluded', '{AUTHOR_BOT}', count(DISTINCT pull_request_id) FROM asks WHERE author_bot
UNION ALL
SELECT 'review_excluded', '{DRAFT}', count(DISTINCT pull_request_id) FROM asks WHERE draft AND NOT author_bot
UNION ALL
SELECT CASE WHEN v.bot THEN 'review_excluded' ELSE 'review_requests' END,
       CASE WHEN v.bot THEN '{REVIEWER_BOT}' ELSE x.login END, count(*)
FROM asks x JOIN reviewers v ON v.login = x.login
WHERE x.kind = 'user' AND NOT x.draft AND NOT x.author_bot
GROUP BY 1, 2
UNION ALL
SELECT 'team_requests', coalesce(login, ''), count(*) FROM asks
WHERE kind = 'team' AND NOT draft AND NOT author_bot GROUP BY coalesce(login, '')
"""
)

# The first :limit items of each list, oldest pull request first (requests in the PR's order).
REVIEW_ITEMS_SQL = (
    _SNAPSHOT
    + f"""
, listed AS (
    SELECT DISTINCT ON (pull_request_id)
           CASE WHEN author_bot THEN '{AUTHOR_BOT}' ELSE '{DRAFT}' END AS list,
           pull_request_id, opened, 0::bigint AS ord, NULL::text AS login, false AS reviewer_flag
    FROM asks WHERE author_bot OR draft
    UNION ALL
    SELECT CASE WHEN x.kind = 'team' THEN '{TEAM_REQUEST}' WHEN v.bot THEN '{REVIEWER_BOT}'
                ELSE 'included' END,
           x.pull_request_id, x.opened, x.ord, x.login, coalesce(v.flag, false)
    FROM asks x LEFT JOIN reviewers v ON x.kind = 'user' AND v.login = x.login
    WHERE NOT x.author_bot AND NOT x.draft
),
ranked AS (
    SELECT l.*, row_number() OVER (PARTITION BY l.list ORDER BY l.opened, l.pull_request_id, l.ord) AS rank
    FROM listed l
)
SELECT k.list, k.login, k.reviewer_flag, k.rank,
       p.id, p.number, p.repository_id, p.title, p.author_login, p.flag
FROM ranked k JOIN prs p ON p.id = k.pull_request_id
WHERE k.rank <= :limit
ORDER BY k.list, k.rank
"""
)

WIP_ITEMS_SQL = (
    _SNAPSHOT
    + f"""
, listed AS (
    SELECT CASE WHEN a.bot THEN '{AUTHOR_BOT}' ELSE 'pull_requests' END AS list, 'pull_request' AS kind,
           p.id, p.number, p.repository_id, p.title, p.opened, p.author_login AS login, p.flag
    FROM prs p JOIN authors a ON a.author_login = coalesce(p.author_login, '') AND a.flag = p.flag
    WHERE coalesce(p.author_login, '') <> ''
    UNION ALL
    SELECT DISTINCT ON (x.id) 'issues', 'issue', x.id, x.number, x.repository_id, x.title, x.opened,
           NULL, false
    FROM assigned x JOIN assignees a ON a.id = x.user_id WHERE NOT a.bot
    UNION ALL
    SELECT '{ASSIGNEE_BOT}', 'issue', x.id, x.number, x.repository_id, x.title, x.opened, a.login, a.flag
    FROM assigned x JOIN assignees a ON a.id = x.user_id WHERE a.bot
),
ranked AS (
    SELECT l.*, row_number() OVER (PARTITION BY l.list ORDER BY l.opened, l.id, l.login) AS rank FROM listed l
)
SELECT * FROM ranked WHERE rank <= :limit ORDER BY list, rank
"""
)


@dataclass(frozen=True)
class OpenWork:
    """Per-person counts of today's open work, and how many items each rule left out."""

    pull_requests: dict[str, int] = field(default_factory=dict)
    issues: dict[str, int] = field(default_factory=dict)
    review_requests: dict[str, int] = field(default_factory=dict)
    team_requests: dict[str, int] = field(default_factory=dict)
    review_excluded: dict[str, int] = field(default_factory=dict)
    wip_excluded: dict[str, int] = field(default_factory=dict)
    issue_items: int = 0
    source: str = "live"  # "rollup": summed from open_work_counts

    def wip(self, login: str) -> dict[str, int]:
        prs, issues = self.pull_requests.get(login, 0), self.issues.get(login, 0)
        return {"pull_requests": prs, "issues": issues, "total": prs + issues}


def snapshot_params(
    installation_id: int, repository_ids: Sequence[int] | None, settings: MetricsSettings
) -> dict[str, Any]:
    """The snapshot queries' parameters (installation, repositories, bot settings)."""
    exclude_bots, bot_patterns = bot_params(settings)
    return {
        "installation": installation_id,
        "repositories": list(repository_ids) if repository_ids is not None else None,
        "exclude_bots": exclude_bots,
        "bot_patterns": bot_patterns,
    }


# The stored rows answer when every repository in scope has a build with these bot settings.
STORED_READY_SQL = """
SELECT NOT EXISTS (
    SELECT 1 FROM repositories r
    LEFT JOIN open_work_builds b ON b.repository_id = r.id AND b.settings_key = $3
    WHERE r.installation_id = $1 AND r.connected AND r.removed_at IS NULL
      AND ($2::bigint[] IS NULL OR r.id = ANY($2::bigint[])) AND b.repository_id IS NULL)
"""
# Every section is a sum over repositories (a pull request or issue belongs to one).
STORED_COUNTS_SQL = """
SELECT c.section, c.key, sum(c.n)::bigint AS n
FROM open_work_counts c JOIN repositories r ON r.id = c.repository_id
WHERE c.installation_id = $1 AND r.installation_id = $1 AND r.connected AND r.removed_at IS NULL
  AND ($2::bigint[] IS NULL OR c.repository_id = ANY($2::bigint[]))
GROUP BY c.section, c.key
"""
def _open_work(rows: Sequence[asyncpg.Record], source: str) -> OpenWork:
    sections: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        if row["n"]:
            sections[row["section"]][row["key"]] = row["n"]
    teams = sum(sections["team_requests"].values())
    if teams:  # every team request is also an exclusion from the per-person load
        sections["review_excluded"][TEAM_REQUEST] = teams
    return OpenWork(
        dict(sections["pull_requests"]),
        dict(sections["issues"]),
        dict(sections["review_requests"]),
        dict(sorted(sections["team_requests"].items())),
        dict(sections["review_excluded"]),
        dict(sections["wip_excluded"]),
        sections["issue_items"].get("", 0),
        source,
    )


async def counts(
    conn: asyncpg.Connection,
    installation_id: int,
    repository_ids: Sequence[int] | None,
    settings: MetricsSettings,
) -> OpenWork:
    """The snapshot's counts for the scope (`repository_ids` None: every connected repository):
    from the stored rows when they are built for every repository in scope, else live."""
    repositories = list(repository_ids) if repository_ids is not None else None
    if await conn.fetchval(STORED_READY_SQL, installation_id, repositories, settings_key(settings)):
        return _open_work(await conn.fetch(STORED_COUNTS_SQL, installation_id, repositories), "rollup")
    rows = await conn.fetch(*bind(COUNTS_SQL, snapshot_params(installation_id, repository_ids, settings)))
    return _open_work(rows, "live")


def _pull_request(row: asyncpg.Record) -> Item:
    return Item(
        "pull_request",
        row["id"],
        f"#{row['number']} {row['title']}",
        details={"repository_id": row["repository_id"]},
    )


def _with_rule(item: Item, login: str | None, flag: bool, settings: MetricsSettings) -> Item:
    rule = bot_rule(login, is_bot=flag, settings=settings)
    return Item(item.kind, item.id, item.label, item.value, {**item.details, "rule": rule})


def _exclusions(
    reasons: Sequence[str], excluded: dict[str, int], items: dict[str, list[Item]]
) -> list[Exclusion]:
    return [
        Exclusion(reason, excluded[reason], items.get(reason, []))
        for reason in reasons
        if excluded.get(reason)
    ]


async def _review_lists(
    conn: asyncpg.Connection, params: dict[str, Any], limit: int, settings: MetricsSettings
) -> dict[str, list[Item]]:
    lists: dict[str, list[Item]] = defaultdict(list)
    for row in await conn.fetch(*bind(REVIEW_ITEMS_SQL, {**params, "limit": limit})):
        reason, pr = row["list"], row["id"]
        if reason in (AUTHOR_BOT, DRAFT):
            item = _pull_request(row)
            lists[reason].append(
                _with_rule(item, row["author_login"], row["flag"], settings) if reason == AUTHOR_BOT else item
            )
            continue
        login = row["login"] or ""
        if reason == TEAM_REQUEST:
            lists[reason].append(
                Item("review_request", f"{pr}:team:{login}", login, details={"pull_request": pr})
            )
        elif reason == REVIEWER_BOT:
            rule = bot_rule(login, is_bot=row["reviewer_flag"], settings=settings)
            lists[reason].append(
                Item("review_request", f"{pr}:{login}", login, details={"pull_request": pr, "rule": rule})
            )
        else:
            lists["included"].append(
                Item("review_request", f"{pr}:{login}", login, details={"pull_request": pr})
            )
    return lists


async def review_load(
    conn: asyncpg.Connection,
    installation_id: int,
    repository_ids: Sequence[int] | None,
    settings: MetricsSettings,
    *,
    limit: int | None = None,
) -> tuple[Figure, int]:
    """`throughput.review_load` over the scope, and the number of included items in all. Items
    (at most `limit` per list, oldest pull request first) only when `limit` is given."""
    params = snapshot_params(installation_id, repository_ids, settings)
    work = await counts(conn, installation_id, repository_ids, settings)
    lists = await _review_lists(conn, params, limit, settings) if limit else {}
    total = sum(work.review_requests.values())
    per_reviewer = dict(sorted(work.review_requests.items(), key=lambda kv: (-kv[1], kv[0])))
    figure = Figure(
        float(total),
        "review requests",
        total,
        _exclusions(REVIEW_REASONS, work.review_excluded, lists),
        lists.get("included", []),
        {"per_reviewer": per_reviewer, "team_requests": work.team_requests, "source": work.source},
    )
    return figure, total


async def _wip_lists(
    conn: asyncpg.Connection, params: dict[str, Any], limit: int, settings: MetricsSettings
) -> dict[str, list[Item]]:
    lists: dict[str, list[Item]] = defaultdict(list)
    for row in await conn.fetch(*bind(WIP_ITEMS_SQL, {**params, "limit": limit})):
        label = f"#{row['number']} {row['title']}"
        item = Item(row["kind"], row["id"], label, details={"repository_id": row["repository_id"]})
        if row["list"] in WIP_REASONS:
            item = _with_rule(item, row["login"], row["flag"], settings)
        lists[row["list"]].append(item)
    return lists


async def work_in_progress(
    conn: asyncpg.Connection,
    installation_id: int,
    repository_ids: Sequence[int] | None,
    settings: MetricsSettings,
    *,
    limit: int | None = None,
) -> tuple[Figure, int]:
    """`throughput.work_in_progress` over the scope, and the number of included items in all
    (pull requests, then issues). Items (at most `limit` per list) only when `limit` is given."""
    params = snapshot_params(installation_id, repository_ids, settings)
    work = await counts(conn, installation_id, repository_ids, settings)
    lists = await _wip_lists(conn, params, limit, settings) if limit else {}
    people = sorted(set(work.pull_requests) | set(work.issues))
    per_person = {p: work.wip(p) for p in people}
    total = sum(v["total"] for v in per_person.values())
    items = (lists.get("pull_requests", []) + lists.get("issues", []))[:limit]
    figure = Figure(
        total / len(per_person) if per_person else None,
        "items per person",
        len(per_person),
        _exclusions(WIP_REASONS, work.wip_excluded, lists),
        items,
        {"total": total, "per_person": per_person, "source": work.source},
    )
    return figure, sum(work.pull_requests.values()) + work.issue_items

"""POST /graphql of the fake GitHub: the importer's pull request queries, answered from state.

Not a GraphQL engine: the operation is recognised by name and the answer built in GitHub's
shape from the REST-shaped objects in the state (state.pulls, state.reviews), with opaque
keyset cursors like GitHub's (`cursor:v2:` + the sort key, base64), connection limits read
from the query, and a `rateLimit` priced with GitHub's formula (each connection assumed full,
summed, divided by 100, at least 1).
"""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson
from aiohttp import web

from fakes.github import state_of, token_identity
from fakes.github.repos import may_see
from fakes.github.state import FakeGitHubState, Json

POINTS_PER_HOUR = 5000
MAX_FIRST = 100
POINTS_USED = web.AppKey("graphql_points_used", list)
OPERATION = re.compile(r"^\s*query\s+(\w+)")
CONNECTION = re.compile(r"(\w+)\(\s*first:\s*(\$\w+|\d+)")
ORDER_BY = re.compile(r"orderBy:\s*\{\s*field:\s*(\w+)\s*,\s*direction:\s*(\w+)\s*\}")
CURSOR_PREFIX = "cursor:v2:"
ORDER_FIELDS = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at"}
BOT_SUFFIX = "[bot]"


def add_routes(app: web.Application) -> None:
    app[POINTS_USED] = [0]
    app.router.add_post("/graphql", graphql)


def errors(*messages: str, status: int = 200, data: Any = None) -> web.Response:
    body: Json = {"errors": [{"message": m} for m in messages]}
    if data is not None:
        body["data"] = data
    return web.json_response(body, status=status)


async def graphql(request: web.Request) -> web.Response:
    if token_identity(request) is None:
        return web.json_response({"message": "This endpoint requires you to be authenticated.",
                                  "documentation_url": "https://docs.github.com/graphql"},
                                 status=401)
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return web.json_response({"message": "Problems parsing JSON"}, status=400)
    query = str(body.get("query") or "")
    variables = body.get("variables") or {}
    match = OPERATION.match(query)
    handler = OPERATIONS.get(match.group(1)) if match else None
    if handler is None:
        return errors("The fake GitHub does not understand this query.")
    limits = connection_limits(query, variables)
    too_big = [name for name, first in limits if not 1 <= first <= MAX_FIRST]
    if too_big:
        return errors(f"Requesting more than {MAX_FIRST} records on the `{too_big[0]}` connection "
                      f"exceeds the `first` limit of {MAX_FIRST} records.")
    data = handler(request, query, variables, dict(limits))
    if isinstance(data, web.Response):
        return data
    if "rateLimit" in query:
        used = request.app[POINTS_USED]
        cost = query_cost(limits)
        used[0] += cost
        data = {"rateLimit": {"cost": cost, "remaining": POINTS_PER_HOUR - used[0],
                              "resetAt": "2099-01-01T00:00:00Z"}, **data}
    return web.json_response({"data": data})


def connection_limits(query: str, variables: Json) -> list[tuple[str, int]]:
    """(connection, first) in query order; `$name` resolved from the variables."""
    limits = []
    for name, value in CONNECTION.findall(query):
        first = variables.get(value[1:]) if value.startswith("$") else int(value)
        limits.append((name, int(first) if first is not None else 0))
    return limits


def query_cost(limits: list[tuple[str, int]]) -> int:
    """GitHub's formula for a query whose first connection holds all the others."""
    if not limits:
        return 1
    outer = limits[0][1]
    requests = 1 + outer * len(limits[1:])
    return max(1, round(requests / 100))


# ----------------------------------------------------------------------------- shapes


def encode_cursor(key: list[Any]) -> str:
    return base64.b64encode((CURSOR_PREFIX + orjson.dumps(key).decode()).encode()).decode()


def decode_cursor(cursor: str) -> list[Any] | None:
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not raw.startswith(CURSOR_PREFIX):
        return None
    return orjson.loads(raw.removeprefix(CURSOR_PREFIX))


def actor(user: Json | None) -> Json | None:
    """A REST user as a GraphQL Actor: bots lose their `[bot]` suffix, as GitHub shows them."""
    if not user:
        return None
    if user.get("type") == "Bot":
        return {"__typename": "Bot", "login": user["login"].removesuffix(BOT_SUFFIX),
                "databaseId": user["id"]}
    return {"__typename": "User", "login": user["login"], "databaseId": user["id"]}


def review_node(review: Json) -> Json:
    return {
        "id": review.get("node_id"),
        "databaseId": review["id"],
        "state": str(review.get("state") or "commented").upper(),
        "body": review.get("body") or "",
        "submittedAt": review.get("submitted_at"),
        "url": review.get("html_url"),
        "authorAssociation": review.get("author_association"),
        "commit": {"oid": review["commit_id"]} if review.get("commit_id") else None,
        "author": actor(review.get("user")),
    }


def keyset_page(items: list[Json], key, first: int, after: str | None, *,
                descending: bool) -> tuple[list[Json], Json]:
    """Keyset paging like GitHub's: the page after a cursor holds the items strictly beyond its
    key in the sort order, so an item that moved meanwhile neither shifts nor repeats others."""
    start = 0
    position = decode_cursor(after) if after else None
    if position is not None:
        beyond = (lambda k: k < position) if descending else (lambda k: k > position)
        start = next((i for i, item in enumerate(items) if beyond(key(item))), len(items))
    chunk = items[start:start + first]
    info = {"hasNextPage": start + first < len(items),
            "endCursor": encode_cursor(key(chunk[-1])) if chunk else None}
    return chunk, info


def review_key(review: Json) -> list[Any]:
    return [review.get("submitted_at") or "", review["id"]]


def reviews_connection(state: FakeGitHubState, full_name: str, number: int, first: int,
                       after: str | None = None) -> Json:
    reviews = sorted(state.reviews.get((full_name, number), []), key=review_key)
    chunk, info = keyset_page(reviews, review_key, first, after, descending=False)
    return {"totalCount": len(reviews), "pageInfo": info, "nodes": [review_node(r) for r in chunk]}


def pull_request_node(state: FakeGitHubState, full_name: str, pr: Json, limits: Json) -> Json:
    """A REST pull request as the GraphQL PullRequest the importer asks for."""
    merged = bool(pr.get("merged_at") or pr.get("merged"))
    head_repo = (pr.get("head") or {}).get("repo")
    base_repo = (pr.get("base") or {}).get("repo") or {}
    milestone = pr.get("milestone")
    requested = [{"requestedReviewer": actor(u)} for u in pr.get("requested_reviewers") or []]
    requested += [{"requestedReviewer": {"__typename": "Team", "databaseId": t["id"],
                                         "slug": t.get("slug"), "name": t.get("name")}}
                  for t in pr.get("requested_teams") or []]
    return {
        "id": pr.get("node_id"),
        "databaseId": pr["id"],
        "number": pr["number"],
        "title": pr["title"],
        "body": pr.get("body") or "",
        "url": pr.get("html_url"),
        "state": "MERGED" if merged else ("CLOSED" if pr["state"] == "closed" else "OPEN"),
        "isDraft": bool(pr.get("draft")),
        "locked": bool(pr.get("locked")),
        "createdAt": pr["created_at"],
        "updatedAt": pr["updated_at"],
        "closedAt": pr.get("closed_at"),
        "mergedAt": pr.get("merged_at"),
        "additions": pr.get("additions", 0),
        "deletions": pr.get("deletions", 0),
        "changedFiles": pr.get("changed_files", 0),
        "authorAssociation": pr.get("author_association"),
        "baseRefName": pr["base"]["ref"],
        "baseRefOid": pr["base"]["sha"],
        "headRefName": pr["head"]["ref"],
        "headRefOid": pr["head"]["sha"],
        "isCrossRepository": head_repo is None or head_repo.get("id") != base_repo.get("id"),
        "headRepository": {"databaseId": head_repo["id"]} if head_repo else None,
        "mergeCommit": {"oid": pr["merge_commit_sha"]} if merged and pr.get("merge_commit_sha")
        else None,
        "milestone": {"number": milestone["number"], "title": milestone.get("title")}
        if milestone else None,
        "author": actor(pr.get("user")),
        "mergedBy": actor(pr.get("merged_by")),
        "commits": {"totalCount": pr.get("commits", 1)},
        "comments": {"totalCount": pr.get("comments", 0)},
        "labels": {"nodes": [{"name": lbl["name"]}
                             for lbl in (pr.get("labels") or [])[:limits.get("labels", 100)]]},
        "assignees": {"nodes": [{"databaseId": a["id"], "login": a["login"]}
                                for a in (pr.get("assignees") or [])[:limits.get("assignees", 100)]]},
        "reviewRequests": {"nodes": requested[:limits.get("reviewRequests", 100)]},
        "reviews": reviews_connection(state, full_name, pr["number"], limits.get("reviews", 100)),
    }


# ----------------------------------------------------------------------------- operations


def import_pull_requests(request: web.Request, query: str, variables: Json,
                         limits: Json) -> Json | web.Response:
    state = state_of(request)
    identity = token_identity(request) or {}
    wanted = f"{variables.get('owner')}/{variables.get('name')}".lower()
    full_name = next((n for n in state.repositories if n.lower() == wanted), None)
    if full_name is None or not may_see(state, identity, full_name):
        return web.json_response({"data": {"repository": None}, "errors": [{
            "type": "NOT_FOUND", "path": ["repository"], "locations": [{"line": 3, "column": 3}],
            "message": f"Could not resolve to a Repository with the name '{wanted}'."}]})
    order = ORDER_BY.search(query)
    field, direction = order.groups() if order else ("CREATED_AT", "ASC")
    sort_field = ORDER_FIELDS.get(field, "created_at")

    def key(pr: Json) -> list[Any]:
        return [pr[sort_field], pr["id"]]

    after = variables.get("after")
    if after and decode_cursor(after) is None:
        return errors(f"`{after}` does not appear to be a valid cursor.", data={"repository": None})
    pulls = sorted(state.pulls.get(full_name, []), key=key, reverse=direction == "DESC")
    chunk, info = keyset_page(pulls, key, limits.get("pullRequests", 0), after,
                              descending=direction == "DESC")
    return {"repository": {"pullRequests": {
        "totalCount": len(pulls), "pageInfo": info,
        "nodes": [pull_request_node(state, full_name, pr, limits) for pr in chunk]}}}


def import_pull_request_reviews(request: web.Request, query: str, variables: Json,
                                limits: Json) -> Json | web.Response:
    state = state_of(request)
    identity = token_identity(request) or {}
    for full_name, pulls in state.pulls.items():
        for pr in pulls:
            if pr.get("node_id") == variables.get("id") and may_see(state, identity, full_name):
                connection = reviews_connection(state, full_name, pr["number"],
                                                limits.get("reviews", 100), variables.get("after"))
                return {"node": {"reviews": connection}}
    return web.json_response({"data": {"node": None}, "errors": [{
        "type": "NOT_FOUND", "path": ["node"],
        "message": f"Could not resolve to a node with the global id of '{variables.get('id')}'"}]})


OPERATIONS = {
    "ImportPullRequests": import_pull_requests,
    "ImportPullRequestReviews": import_pull_request_reviews,
}

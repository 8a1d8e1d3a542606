"""Pull requests with their reviews through GraphQL: one request per 100 PRs, reviews inline.

REST needs a list call per 100 PRs plus one reviews call per PR (1,010 requests for 1,000 PRs);
this query returns both in one page. GitHub's cost formula (every connection assumed full,
summed, divided by 100): 1 pullRequests + 100 PRs x 4 nested connections (reviews, labels,
assignees, reviewRequests) = 401 requests -> about 4 points per page, far below the 5,000
points an hour. The nodes are mapped to the REST/webhook shape the store already accepts, so
the import writes through exactly the same upserts as the webhook handlers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gidgethub.abc import GitHubAPI

from devmetrics_app.timeutil import parse_ts

PAGE_SIZE = 100  # GraphQL's maximum `first`
REVIEWS_PER_PR = 100
LABELS_PER_PR = 50
ASSIGNEES_PER_PR = 20
REVIEW_REQUESTS_PER_PR = 20
BOT_SUFFIX = "[bot]"
DEFAULT_GRAPHQL_PATH = "/graphql"
GHES_REST_SUFFIX = "/api/v3"
GHES_GRAPHQL_SUFFIX = "/api/graphql"

_ACTOR = """__typename login
    ... on User { databaseId }
    ... on Bot { databaseId }
    ... on Mannequin { databaseId }"""

_REVIEW_FIELDS = f"""id databaseId state body submittedAt url authorAssociation
        commit {{ oid }}
        author {{ {_ACTOR} }}"""

PULL_REQUESTS_QUERY = f"""query ImportPullRequests($owner: String!, $name: String!, $after: String,
                          $pageSize: Int!) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    pullRequests(first: $pageSize, after: $after, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        id databaseId number title body url state isDraft locked
        createdAt updatedAt closedAt mergedAt
        additions deletions changedFiles authorAssociation
        baseRefName baseRefOid headRefName headRefOid isCrossRepository
        headRepository {{ databaseId }}
        mergeCommit {{ oid }}
        milestone {{ number }}
        author {{ {_ACTOR} }}
        mergedBy {{ {_ACTOR} }}
        commits {{ totalCount }}
        comments {{ totalCount }}
        labels(first: {LABELS_PER_PR}) {{ nodes {{ name }} }}
        assignees(first: {ASSIGNEES_PER_PR}) {{ nodes {{ databaseId login }} }}
        reviewRequests(first: {REVIEW_REQUESTS_PER_PR}) {{
          nodes {{ requestedReviewer {{
            __typename
            ... on User {{ databaseId login }}
            ... on Bot {{ databaseId login }}
            ... on Team {{ databaseId slug name }}
          }} }}
        }}
        reviews(first: {REVIEWS_PER_PR}) {{
          totalCount
          pageInfo {{ hasNextPage endCursor }}
          nodes {{ {_REVIEW_FIELDS} }}
        }}
      }}
    }}
  }}
}}"""

# Only for the rare PR with more than REVIEWS_PER_PR reviews.
MORE_REVIEWS_QUERY = f"""query ImportPullRequestReviews($id: ID!, $after: String) {{
  rateLimit {{ cost remaining resetAt }}
  node(id: $id) {{
    ... on PullRequest {{
      reviews(first: {REVIEWS_PER_PR}, after: $after) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {_REVIEW_FIELDS} }}
      }}
    }}
  }}
}}"""


@dataclass
class PullRequestPage:
    """One page, mapped: (REST-shaped PR, its REST-shaped reviews) in GitHub's order."""

    pulls: list[tuple[dict[str, Any], list[dict[str, Any]]]]
    end_cursor: str | None
    has_next_page: bool
    # Set when a PR older than `since` was met: nothing after it is needed.
    reached_since: bool
    cost: int = 0


def graphql_endpoint(rest_base_url: str) -> str:
    """GitHub.com serves GraphQL at api.github.com/graphql; GitHub Enterprise Server at
    /api/graphql beside its /api/v3 REST root. gidgethub defaults to github.com, so a fake or
    GHES must be named explicitly."""
    base = rest_base_url.rstrip("/")
    if base.endswith(GHES_REST_SUFFIX):
        return base.removesuffix(GHES_REST_SUFFIX) + GHES_GRAPHQL_SUFFIX
    return base + DEFAULT_GRAPHQL_PATH


def actor_to_user(actor: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A GraphQL Actor as a REST user. Bots are `dependabot` in GraphQL but `dependabot[bot]`
    in REST and webhooks: the REST login is the one the users table and commits know."""
    if not actor or actor.get("databaseId") is None:
        return None  # a deleted account (REST would say `ghost`) or an actor without an id
    kind = actor.get("__typename") or "User"
    login = str(actor.get("login") or "")
    if kind == "Bot" and not login.endswith(BOT_SUFFIX):
        login += BOT_SUFFIX
    return {"id": int(actor["databaseId"]), "login": login,
            "type": "Bot" if kind == "Bot" else "User"}


def review_from_node(node: Mapping[str, Any]) -> dict[str, Any]:
    """A GraphQL PullRequestReview in the REST review shape upsert_review takes."""
    return {
        "id": int(node["databaseId"]),
        "node_id": node.get("id"),
        "user": actor_to_user(node.get("author")),
        "body": node.get("body"),
        "state": node.get("state"),
        "commit_id": (node.get("commit") or {}).get("oid"),
        "author_association": node.get("authorAssociation"),
        "html_url": node.get("url"),
        "submitted_at": node.get("submittedAt"),
    }


def _requested(node: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    people: list[dict[str, Any]] = []
    teams: list[dict[str, Any]] = []
    for entry in (node.get("reviewRequests") or {}).get("nodes") or []:
        reviewer = (entry or {}).get("requestedReviewer") or {}
        if reviewer.get("databaseId") is None:
            continue
        if reviewer.get("__typename") == "Team":
            teams.append({"id": int(reviewer["databaseId"]), "slug": reviewer.get("slug"),
                          "name": reviewer.get("name")})
        else:
            user = actor_to_user(reviewer)
            if user:
                people.append(user)
    return people, teams


def pull_request_from_node(
    node: Mapping[str, Any], *, repository_id: int, milestone_ids: Mapping[int, int]
) -> dict[str, Any]:
    """A GraphQL PullRequest in the REST/webhook PR shape upsert_pull_request takes.

    `milestone_ids` maps milestone numbers to ids: GraphQL's Milestone has no databaseId.
    The REST-only `review_comments` count is left out, so the stored value is kept."""
    state = node.get("state")
    people, teams = _requested(node)
    head_repo = node.get("headRepository")
    milestone_number = (node.get("milestone") or {}).get("number")
    milestone_id = milestone_ids.get(int(milestone_number)) if milestone_number is not None else None
    return {
        "id": int(node["databaseId"]),
        "node_id": node.get("id"),
        "number": int(node["number"]),
        "title": node.get("title"),
        "body": node.get("body"),
        "html_url": node.get("url"),
        "user": actor_to_user(node.get("author")),
        "author_association": node.get("authorAssociation"),
        "state": "open" if state == "OPEN" else "closed",
        "merged": state == "MERGED",
        "draft": bool(node.get("isDraft")),
        "locked": bool(node.get("locked")),
        "base": {"ref": node.get("baseRefName"), "sha": node.get("baseRefOid"),
                 "repo": {"id": repository_id}},
        "head": {"ref": node.get("headRefName"), "sha": node.get("headRefOid"),
                 "repo": {"id": int(head_repo["databaseId"])} if head_repo else None},
        "additions": node.get("additions"),
        "deletions": node.get("deletions"),
        "changed_files": node.get("changedFiles"),
        "commits": (node.get("commits") or {}).get("totalCount"),
        "comments": (node.get("comments") or {}).get("totalCount"),
        "labels": [{"name": lbl["name"]} for lbl in (node.get("labels") or {}).get("nodes") or []
                   if lbl],
        "requested_reviewers": people,
        "requested_teams": teams,
        "assignees": [{"id": int(a["databaseId"]), "login": a.get("login")}
                      for a in (node.get("assignees") or {}).get("nodes") or []
                      if a and a.get("databaseId") is not None],
        "milestone": {"id": milestone_id} if milestone_id is not None else None,
        "merged_by": actor_to_user(node.get("mergedBy")),
        "merge_commit_sha": (node.get("mergeCommit") or {}).get("oid"),
        "created_at": node["createdAt"],
        "updated_at": node["updatedAt"],
        "closed_at": node.get("closedAt"),
        "merged_at": node.get("mergedAt"),
    }


async def _remaining_reviews(gh: GitHubAPI, endpoint: str, node_id: str, after: str | None,
                             page: PullRequestPage) -> list[dict[str, Any]]:
    reviews: list[dict[str, Any]] = []
    while after:
        data = await gh.graphql(MORE_REVIEWS_QUERY, endpoint=endpoint, id=node_id, after=after)
        page.cost += int((data.get("rateLimit") or {}).get("cost") or 0)
        connection = (data.get("node") or {}).get("reviews") or {}
        reviews.extend(review_from_node(n) for n in connection.get("nodes") or [] if n)
        info = connection.get("pageInfo") or {}
        after = info.get("endCursor") if info.get("hasNextPage") else None
    return reviews


async def fetch_pull_request_page(
    gh: GitHubAPI,
    *,
    owner: str,
    name: str,
    after: str | None,
    since: datetime,
    repository_id: int,
    milestone_ids: Mapping[int, int],
    endpoint: str,
) -> PullRequestPage:
    """Fetch one page (newest update first) and map it; PRs last updated before `since` are
    dropped and end the import, since everything after them is older still."""
    data = await gh.graphql(PULL_REQUESTS_QUERY, endpoint=endpoint, owner=owner, name=name,
                            after=after, pageSize=PAGE_SIZE)
    repository = data.get("repository")
    if repository is None:
        raise LookupError(f"GraphQL cannot see repository {owner}/{name}")
    connection = repository["pullRequests"]
    info = connection.get("pageInfo") or {}
    page = PullRequestPage(pulls=[], end_cursor=info.get("endCursor"),
                           has_next_page=bool(info.get("hasNextPage")), reached_since=False,
                           cost=int((data.get("rateLimit") or {}).get("cost") or 0))
    for node in connection.get("nodes") or []:
        if not node:
            continue
        if parse_ts(node["updatedAt"]) < since:
            page.reached_since = True
            break
        pr = pull_request_from_node(node, repository_id=repository_id, milestone_ids=milestone_ids)
        review_connection = node.get("reviews") or {}
        reviews = [review_from_node(n) for n in review_connection.get("nodes") or [] if n]
        review_info = review_connection.get("pageInfo") or {}
        if review_info.get("hasNextPage"):
            reviews += await _remaining_reviews(gh, endpoint, node["id"],
                                                review_info.get("endCursor"), page)
        page.pulls.append((pr, reviews))
    return page

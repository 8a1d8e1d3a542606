"""What a review reads through GitHub's API, and who we are there.

The pull request itself comes from the API, not from our table: the table is newest-wins by
`updated_at` and may lag a burst of pushes, while the API's head is the one to review. Files come
from `GET /pulls/{n}/files`, every page, up to the 3,000 GitHub will list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gidgethub.abc import GitHubAPI

from devmetrics_app.ai.files import PrFile
from devmetrics_app.github.client import GitHubClients
from devmetrics_app.github.credentials import CredentialsSource

MAX_FILES = 3_000  # GitHub lists at most this many files of a pull request
PER_PAGE = 100

_slugs: dict[int, str] = {}


async def pull_request(gh: GitHubAPI, repository: str, number: int) -> Mapping[str, Any]:
    return await gh.getitem(f"/repos/{repository}/pulls/{number}")


async def files(gh: GitHubAPI, repository: str, number: int) -> list[PrFile]:
    out: list[PrFile] = []
    async for item in gh.getiter(f"/repos/{repository}/pulls/{number}/files?per_page={PER_PAGE}"):
        out.append(PrFile.from_github(item))
        if len(out) >= MAX_FILES:
            break
    return out


def is_bot(user: Mapping[str, Any] | None) -> bool:
    user = user or {}
    return user.get("type") == "Bot" or str(user.get("login", "")).lower().endswith("[bot]")


async def app_identity(clients: GitHubClients,
                       credentials: CredentialsSource) -> tuple[int | None, str | None]:
    """(app id, bot login) of this app. The slug is a setting when configured from the
    environment; otherwise GitHub says it (GET /app, as the app), once per process."""
    creds = await credentials()
    if creds is None:
        return None, None
    slug = creds.slug or _slugs.get(creds.app_id)
    if not slug:
        app = await clients.as_app().getitem("/app")
        slug = _slugs[creds.app_id] = str(app.get("slug") or "")
    return creds.app_id, (f"{slug}[bot]" if slug else None)

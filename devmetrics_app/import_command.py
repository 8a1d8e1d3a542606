"""`devmetrics import OWNER/REPO --days N`: the history import, from a terminal, with progress."""

from __future__ import annotations

import sys
from typing import TextIO

import aiohttp
import redis.asyncio as aioredis
from gidgethub import BadRequest

from devmetrics_app.crypto import SecretBox
from devmetrics_app.db import create_pool
from devmetrics_app.github.client import GitHubClients
from devmetrics_app.github.errors import GitHubAppError
from devmetrics_app.github.provider import CredentialsProvider
from devmetrics_app.importer import KINDS, ImportIncomplete, KindProgress, import_repository
from devmetrics_app.services import Services

BAR_WIDTH = 24


class ImportCommandError(Exception):
    pass


class ProgressBar:
    """One line per run, redrawn in place: which kind, how many items, how many kinds done."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self._stream = stream
        self._done: set[str] = set()

    def __call__(self, progress: KindProgress) -> None:
        if progress.done:
            self._done.add(progress.kind)
        filled = BAR_WIDTH * len(self._done) // len(KINDS)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self._stream.write(f"\r[{bar}] {len(self._done)}/{len(KINDS)} kinds  "
                           f"{progress.kind:<14} {progress.items:>7} items")
        self._stream.flush()


async def _installation_for(pool, clients: GitHubClients, full_name: str) -> int:
    known = await pool.fetchval(
        "SELECT installation_id FROM repositories WHERE lower(full_name) = lower($1) "
        "AND removed_at IS NULL", full_name)
    if known:
        return int(known)
    try:
        installation = await clients.as_app().getitem(f"/repos/{full_name}/installation")
    except BadRequest as exc:
        raise ImportCommandError(f"the app is not installed on {full_name} "
                                 f"(GitHub answered {exc.status_code})") from None
    return int(installation["id"])


async def run_import(services: Services, full_name: str, *, days: int) -> dict[str, int]:
    if full_name.count("/") != 1 or not all(full_name.split("/")):
        raise ImportCommandError("give the repository as OWNER/REPO")
    settings = services.settings
    pool = await create_pool(services.endpoints.database_url, max_size=4)
    redis = aioredis.from_url(services.endpoints.redis_url)
    session = aiohttp.ClientSession()
    try:
        clients = GitHubClients(session=session, redis=redis, settings=settings,
                                credentials=CredentialsProvider(settings, pool,
                                                                SecretBox(settings.secret_key.get())))
        try:
            installation_id = await _installation_for(pool, clients, full_name)
            gh = await clients.client_for(installation_id)
            summary = await import_repository(pool, gh, installation_id=installation_id,
                                              repository=full_name, days=days,
                                              progress=ProgressBar())
        except (GitHubAppError, ImportIncomplete) as exc:
            raise ImportCommandError(str(exc)) from None
        sys.stderr.write("\n")
        return summary.items
    finally:
        await session.close()
        await redis.aclose()
        await pool.close()

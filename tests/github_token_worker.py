"""A separate OS process that asks for an installation token at an agreed moment, for the test
that two processes share one refresh. Prints {"token": ...} as one JSON line.

python tests/github_token_worker.py REDIS_URL API_URL KEY_FILE APP_ID INSTALLATION_ID NAMESPACE START_AT
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import orjson
from redis.asyncio import Redis

from devmetrics_app.config import Secret, Settings
from devmetrics_app.github import GitHubClients


async def main(redis_url: str, api_url: str, private_key: str, app_id: str, installation_id: str,
               namespace: str, start_at: str) -> None:
    settings = Settings(github_app_id=int(app_id), github_private_key=Secret(private_key),
                        github_api_url=api_url, github_url=api_url)
    redis = Redis.from_url(redis_url)
    async with aiohttp.ClientSession() as session:
        clients = GitHubClients(session=session, redis=redis, settings=settings, namespace=namespace)
        await redis.ping()  # connect before the start line, so both processes race fairly
        await asyncio.sleep(max(float(start_at) - time.time(), 0))
        token = await clients.installation_token(int(installation_id))
    await redis.aclose()
    sys.stdout.write(orjson.dumps({"token": token}).decode() + "\n")


if __name__ == "__main__":
    redis_url, api_url, key_file, *rest = sys.argv[1:8]
    asyncio.run(main(redis_url, api_url, Path(key_file).read_text(), *rest))

"""A new installation fills its dashboards: the installation webhook, over HTTP, through a real
Dramatiq worker that authenticates as the app to the fake GitHub and imports the history."""

from __future__ import annotations

import copy

import payloads
from conftest import post_webhook, wait_for
from test_import import FULL_NAME, INSTALLATION, seed_world

from devmetrics_app.operator_tokens import mint_operator_token


async def test_installation_webhook_imports_history(github_client, github_worker, pool,
                                                    database_url) -> None:
    client, state = github_client
    seed_world(state)
    state.installations[INSTALLATION] = {"id": INSTALLATION, "account": payloads.ACME}
    created = copy.deepcopy(next(p for e, c, p in payloads.ALL_SAMPLES
                                 if (e, c) == ("installation", "created-org")))
    assert (await post_webhook(client, "installation", created)).status == 202

    async def imported() -> bool:
        return await pool.fetchval(
            "SELECT count(*) = 6 AND bool_and(done) FROM import_cursors c "
            "JOIN repositories r ON r.id = c.repository_id WHERE r.full_name = $1", FULL_NAME)

    await wait_for(imported, timeout=60)
    assert await pool.fetchval("SELECT count(*) FROM pull_requests WHERE repository_id = $1",
                               payloads.REPO_API_ID) == 4  # the fifth is older than 90 days
    # The worker authenticated as the app: an installation token was minted with a JWT.
    assert state.requests_to("POST", f"/app/installations/{INSTALLATION}/access_tokens")
    # Progress shows on the repository.
    token = await mint_operator_token(database_url, login="carol", installation_id=INSTALLATION,
                                      role="VIEWER", days=1)
    body = await (await client.get(f"/api/repositories/{payloads.REPO_API_ID}",
                                   headers={"Authorization": f"Bearer {token}"})).json()
    assert body["import"]["state"] == "done" and body["import"]["items"] > 0


async def test_suspended_installation_drops_the_import(github_client, github_worker, pool) -> None:
    client, state = github_client
    seed_world(state)
    state.installations[INSTALLATION] = {"id": INSTALLATION, "account": payloads.ACME,
                                         "suspended_at": "2024-05-01T10:00:00Z"}
    created = copy.deepcopy(next(p for e, c, p in payloads.ALL_SAMPLES
                                 if (e, c) == ("installation", "created-org")))
    await post_webhook(client, "installation", created)
    await wait_for(lambda: state.requests_to("POST", "/app/installations/"), timeout=60)

    async def settled() -> bool:
        return await pool.fetchval("SELECT count(*) FROM webhook_deliveries "
                                   "WHERE status = 'processed'") == 1
    await wait_for(settled, timeout=30)
    token_requests = len(state.requests_to("POST", "/app/installations/"))
    # Every repository's job asked at most once between them: the verdict is cached.
    assert token_requests <= 2
    assert await pool.fetchval("SELECT count(*) FROM pull_requests") == 0


async def test_import_command_with_progress(fake_github, pool, settings, private_key_pem) -> None:
    import asyncio
    import os
    import sys

    from conftest import deliver

    state, base_url = fake_github
    seed_world(state)
    state.installations[INSTALLATION] = {"id": INSTALLATION, "account": payloads.ACME}
    await deliver(pool, "installation", copy.deepcopy(next(
        p for e, c, p in payloads.ALL_SAMPLES if (e, c) == ("installation", "created-org"))))
    env = {**os.environ, "DEVMETRICS_ENV": "test", "DATABASE_URL": settings.database_url.get(),
           "REDIS_URL": settings.redis_url.get(), "SECRET_KEY": settings.secret_key.get(),
           "DEVMETRICS_DATA_DIR": str(settings.data_dir), "GITHUB_APP_ID": "12345",
           "GITHUB_PRIVATE_KEY": private_key_pem, "GITHUB_WEBHOOK_SECRET": "x",
           "GITHUB_API_URL": base_url, "GITHUB_URL": base_url, "LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devmetrics_app.cli", "import", FULL_NAME, "--days", "30", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert "pull_requests: 4" in out.decode()
    assert "6/6 kinds" in err.decode()  # the progress bar reached the end
    bad = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devmetrics_app.cli", "import", "not-a-repo", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await bad.communicate()
    assert bad.returncode == 2 and b"OWNER/REPO" in err

"""Shared pieces of the REST API tests: the app with the API routes, signed-in callers, and a
seeded world (the sample deliveries of tests/payloads.py, processed through the real router).

The `api` fixture (import `api_fixture` to use it) builds the app as conftest's `github_client`
does. Until web/app.py registers the API
modules it adds their routes itself (only those not registered yet, so once the app wires them
this is a no-op), and it swaps the app's actor sender for a recorder, so a test can see which
jobs a request enqueued without a Dramatiq worker.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import payloads
import pytest
from conftest import deliver
from payloads import sample
from test_auth import api_sign_in, seed_user

from devmetrics_app.web.app import create_app
from devmetrics_app.web.keys import SEND

ORG = payloads.ORG_INSTALLATION_ID
SOLO = payloads.SOLO_INSTALLATION_ID
# The sample world happens around 2024-05-01 (payloads.EPOCH).
WORLD = {"from": "2024-01-01", "to": "2024-12-31"}
SEEDED_EVENTS = ("push", "pull_request", "pull_request_review", "issues", "milestone",
                 "workflow_run", "deployment", "deployment_status")
# Days around payloads.EPOCH (relative) whose rollups seed_world computes.
ROLLUP_DAYS = (-2, 4)
SKIPPED_SAMPLES = {("milestone", "deleted"), ("issues", "deleted"), ("issues", "transferred")}


@dataclass
class Api:
    client: Any
    state: Any
    sent: list[tuple[str, dict]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    async def sign_in(self, login: str = "alice", installations: tuple[int, ...] = (ORG,)) -> dict:
        seed_user(self.state, login, installations=installations)
        self.headers = {"Authorization": f"Bearer {await api_sign_in(self.client, self.state, login)}"}
        return self.headers

    async def get(self, path: str, params: Any = None, *, status: int = 200) -> Any:
        response = await self.client.get(path, params=params, headers=self.headers)
        body = await response.json()
        assert response.status == status, (path, params, response.status, body)
        return body

    async def post(self, path: str, *, status: int, params: Any = None) -> Any:
        response = await self.client.post(path, params=params, headers=self.headers)
        body = await response.json()
        assert response.status == status, (path, response.status, body)
        return body


@pytest.fixture(name="api")
async def api_fixture(aiohttp_client, wired_settings, pool, broker, fake_github) -> Api:
    """The app wired to the fake GitHub, with a recorder in place of Dramatiq's sender."""
    state, _ = fake_github
    app = create_app(wired_settings, database_url=wired_settings.database_url.get(),
                     redis_url=wired_settings.redis_url.get())
    sent = recorded_sends(app)  # before the client starts the app (its hooks freeze then)
    return Api(await aiohttp_client(app), state, sent)


def recorded_sends(app) -> list[tuple[str, dict]]:
    """The jobs the app enqueues, as (actor, kwargs), instead of sending them to Dramatiq."""
    sent: list[tuple[str, dict]] = []

    async def record(actor_name: str, **kwargs: object) -> None:
        sent.append((actor_name, kwargs))

    async def recorder(app):
        app[SEND] = record
        yield

    app.cleanup_ctx.append(recorder)  # after the app's own resources: replaces their sender
    return sent




async def seed_world(pool, *, rollups: bool = False) -> None:
    """Both installations, then every sample of the activity events, in file order; with
    `rollups`, the metric facts and daily rollups of the sample days (what the debounced rollup
    job would do after these deliveries)."""
    await deliver(pool, "installation", sample("installation", "created-org"))
    await deliver(pool, "installation", sample("installation", "created-user-account"))
    for event, label, payload in payloads.ALL_SAMPLES:
        if event in SEEDED_EVENTS and (event, label) not in SKIPPED_SAMPLES:
            await deliver(pool, event, copy.deepcopy(payload))
    if rollups:
        from devmetrics_app.metrics.materialize import recompute_installation

        days = [payloads.EPOCH.date() + timedelta(days=d) for d in range(*ROLLUP_DAYS)]
        async with pool.acquire() as conn:
            for installation_id in (ORG, SOLO):
                await recompute_installation(conn, installation_id, days)


async def set_role(pool, login_id: int, role: str, installation_id: int = ORG) -> None:
    await pool.execute(
        """INSERT INTO memberships (installation_id, organization_id, user_id, role, source)
           VALUES ($1, $2, $3, $4, 'manual')
           ON CONFLICT (installation_id, user_id) DO UPDATE SET role = EXCLUDED.role""",
        installation_id, payloads.ORG_ID, login_id, role)

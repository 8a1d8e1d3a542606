"""Shared pieces of the dashboard page tests (no tests here): the app as web/app.py builds it
(dashboard included) and a browser-style signed-in client. Jobs the pages would enqueue are
recorded in `pages.sent` instead of reaching Dramatiq (as in api_support)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from api_support import ORG, recorded_sends, seed_world  # noqa: F401 - re-exported for the page tests
from test_auth import browser_sign_in, seed_user

from devmetrics_app.web.app import create_app

WORLD_QUERY = {"period": "custom", "from": "2024-01-01", "to": "2024-12-31"}
API_WORLD = {"from": "2024-01-01", "to": "2024-12-31"}


@dataclass
class Pages:
    client: Any
    state: Any
    csrf: str = ""
    sent: list[tuple[str, dict]] = field(default_factory=list)

    async def sign_in(self, login: str = "alice", installations: tuple[int, ...] = (ORG,)) -> str:
        seed_user(self.state, login, installations=installations)
        self.csrf = await browser_sign_in(self.client, self.state, login)
        return self.csrf

    async def html(self, path: str, params: Any = None, *, status: int = 200) -> str:
        response = await self.client.get(path, params=params, allow_redirects=False)
        text = await response.text()
        assert response.status == status, (path, response.status, text[:2000])
        return text

    async def api(self, path: str, params: Any = None) -> Any:
        response = await self.client.get(path, params=params)
        assert response.status == 200, await response.text()
        return await response.json()

    async def post(self, path: str, data: dict | list, *, status: int = 303,
                   csrf: bool = True) -> Any:
        form = list(data.items()) if isinstance(data, dict) else list(data)
        if csrf:
            form.append(("csrf_token", self.csrf))
        response = await self.client.post(path, data=form, allow_redirects=False)
        assert response.status == status, (path, response.status, (await response.text())[:2000])
        return response


@pytest.fixture(name="pages")
async def pages_fixture(aiohttp_client, wired_settings, pool, broker, fake_github) -> Pages:
    state, _ = fake_github
    app = create_app(wired_settings, database_url=wired_settings.database_url.get(),
                     redis_url=wired_settings.redis_url.get())
    sent = recorded_sends(app)
    return Pages(await aiohttp_client(app), state, sent=sent)

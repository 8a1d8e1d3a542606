"""`devmetrics demo`: a simulated organisation through the real webhook path, shown to the local
browser as its admin, and to nobody else."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket

import aiohttp
import pytest

from devmetrics_app import demo
from devmetrics_app.runtime import Endpoints
from devmetrics_app.services import InProcessWorker, Services
from devmetrics_app.simulation import generate_org
from devmetrics_app.web.app import create_app
from devmetrics_app.web.demo_access import DEMO_SESSION

LOAD_TIMEOUT_SECONDS = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("203.0.113.1", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.fixture
async def running_demo(settings, pool, broker):
    """`devmetrics demo` as the command runs it, on the test database and Redis."""
    port = free_port()
    demo_settings = demo.demo_settings(dataclasses.replace(settings, worker_threads=2),
                                       public_url=f"http://127.0.0.1:{port}")
    endpoints = Endpoints(settings.database_url.get(), settings.redis_url.get())
    worker = InProcessWorker(Services(demo_settings, endpoints), queues=sorted(demo.DEMO_QUEUES))
    worker.start()
    app = create_app(demo_settings, database_url=endpoints.database_url, redis_url=endpoints.redis_url)
    deliveries = generate_org(seed=5, scale=0.05, weeks=1)
    ready = asyncio.Event()
    task = asyncio.create_task(demo.serve_and_load(app, port=port, deliveries=deliveries, broker=broker,
                                                   ready=ready))
    try:
        done, _ = await asyncio.wait({task, asyncio.create_task(ready.wait())},
                                     timeout=LOAD_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # the demo stopped early: show why
        assert ready.is_set(), "the demo did not finish loading"
        yield demo_settings, f"http://127.0.0.1:{port}", deliveries
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        worker.stop()


async def test_demo_loads_through_webhooks_and_shows_the_local_browser_a_dashboard(running_demo, pool):
    _, url, deliveries = running_demo
    statuses = dict(await pool.fetch("SELECT status, count(*) FROM webhook_deliveries GROUP BY status"))
    assert statuses == {"processed": len(deliveries)}
    assert await pool.fetchval("SELECT count(*) FROM pull_requests") > 0
    async with aiohttp.ClientSession() as browser:
        async with browser.get(url + "/") as response:
            page = await response.text()
            assert response.status == 200
            assert response.url.path == "/dashboard" or response.url.path.startswith("/orgs/")
        assert "Demo data" in page and "northwind" in page
        # Changes still need the page's CSRF token: another site cannot act as the demo admin.
        async with browser.post(url + "/api/auth/logout") as refused:
            assert refused.status == 403


async def test_demo_lets_in_nobody_but_the_local_browser(running_demo):
    _, url, _ = running_demo
    for headers in ({"X-Forwarded-For": "198.51.100.7"},  # a local proxy forwarding someone else
                    {"Host": "rebound.example:8000"}):  # a DNS-rebinding page in the local browser
        async with aiohttp.ClientSession() as other:
            async with other.get(url + "/api/auth/me", headers=headers) as me:
                assert me.status == 401, headers
            async with other.get(url + "/dashboard", headers=headers, allow_redirects=False) as page:
                assert page.status == 302 and page.headers["Location"].startswith("/?next="), headers
    async with aiohttp.ClientSession() as other, other.get(
            url + "/", headers={"X-Forwarded-For": "198.51.100.7"}) as landing:
        text = await landing.text()
    assert "Demo data" in text and "shown only to a browser on the machine" in text
    assert "Sign in with GitHub" not in text and "/installations/new" not in text


async def test_a_request_from_another_machine_is_not_signed_in(running_demo, aiohttp_server):
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to connect from")
    demo_settings, _, _ = running_demo
    app = create_app(demo_settings, database_url=demo_settings.database_url.get(),
                     redis_url=demo_settings.redis_url.get())
    server = await aiohttp_server(app, host="0.0.0.0")  # noqa: S104 (reached at its outward address)
    async with aiohttp.ClientSession() as other:
        async with other.get(f"http://{address}:{server.port}/api/auth/me") as me:
            assert me.status == 401
        async with other.get(f"http://{address}:{server.port}/dashboard",
                             allow_redirects=False) as page:
            assert page.status == 302
        assert app[DEMO_SESSION].login == "amara"  # the app was in demo mode all along


async def test_demo_refuses_a_database_holding_a_real_organisation(settings, pool) -> None:
    await demo.ensure_demo_only(settings.database_url.get())  # empty: fine
    await pool.execute(
        """INSERT INTO installations (id, account_id, account_login, account_type)
           VALUES (4242, 9001, 'acme', 'Organization')""")
    with pytest.raises(demo.DemoError, match="1 real installation"):
        await demo.ensure_demo_only(settings.database_url.get())

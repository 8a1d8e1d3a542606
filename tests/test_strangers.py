"""Callers with no credentials learn nothing: every API route with a path id answers them the
same for an id that exists and for one that does not (401), before looking anything up.

The walk reads the app's routes (as test_hostile_queries does), so a new route is covered the
day it is added."""

from __future__ import annotations

import re

from api_support import seed_world
from test_hostile_queries import OWN_IDS, own_routes

MISSING_IDS = {name: (987654 if isinstance(value, int) else "missing")
               for name, value in OWN_IDS.items()}


async def test_strangers_get_401_whether_the_id_exists_or_not(client, pool) -> None:
    await seed_world(pool, rollups=False)
    await pool.execute(
        "INSERT INTO notification_rules (id, installation_id, organization_id, name, type, "
        "channels, created_by_id) SELECT 1, id, account_id, 'r', 'pr_opened', '{in_app}', NULL "
        "FROM installations LIMIT 1")
    walked, differences = 0, []
    for method, pattern, path in own_routes(client.server.app, lambda m: m not in {"HEAD", "*"}):
        if not pattern.startswith("/api/") or "{" not in pattern:
            continue
        params = re.findall(r"\{(\w+)\}", pattern)
        missing = pattern.format(**{p: MISSING_IDS[p] for p in params})
        statuses = []
        for target in (path, missing):
            response = await client.request(method, target, json={}, allow_redirects=False)
            statuses.append(response.status)
        if statuses != [401, 401]:
            differences.append((method, pattern, statuses))
        walked += 1
    assert not differences, differences
    assert walked >= 5

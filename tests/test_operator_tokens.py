"""`devmetrics token create` grants exactly one installation with one role."""

from __future__ import annotations

import payloads
import pytest
from conftest import deliver

from devmetrics_app.operator_tokens import TokenError, mint_operator_token


async def test_operator_token_grants_the_installation(client, pool, database_url) -> None:
    sample = next(p for e, c, p in payloads.ALL_SAMPLES if (e, c) == ("installation", "created-org"))
    await deliver(pool, "installation", sample)
    secret = await mint_operator_token(database_url, login="CAROL", installation_id=4242,
                                       role="MANAGER", days=7)
    headers = {"Authorization": f"Bearer {secret}"}
    me = await (await client.get("/api/auth/me", headers=headers)).json()
    assert me["installations"] == [{"id": 4242, "account": "acme", "account_type": "Organization",
                                    "role": "MANAGER"}]
    assert (await client.get("/api/installations/4343", headers=headers)).status == 404
    for kwargs, message in (({"login": "nobody"}, "no GitHub user"),
                            ({"installation_id": 1}, "unknown"),
                            ({"days": 0}, "--days")):
        with pytest.raises(TokenError, match=message):
            await mint_operator_token(database_url, **{"login": "carol", "installation_id": 4242,
                                                       "role": "VIEWER", "days": 7, **kwargs})

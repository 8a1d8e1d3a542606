"""Which queued rollup jobs make a scope's figures pending (web/api/freshness.py)."""

from devmetrics_app.web.api.freshness import message_hits

SCOPE = {501, 502}


def test_a_repository_job_hits_only_its_repository() -> None:
    assert message_hits({"actor_name": "run_rollups", "args": [501, ["2024-05-01"]]}, 1, SCOPE)
    assert not message_hits({"actor_name": "run_rollups", "args": [601, ["2024-05-01"]]}, 1, SCOPE)
    assert message_hits({"actor_name": "recompute_rollups", "kwargs": {"repository_id": 502}}, 1, SCOPE)


def test_an_installation_job_hits_its_installation_and_an_unknown_one_hits_every_scope() -> None:
    assert message_hits({"actor_name": "recompute_installation_rollups", "args": [1]}, 1, SCOPE)
    other = {"actor_name": "recompute_installation_rollups", "kwargs": {"installation_id": 2}}
    assert not message_hits(other, 1, SCOPE)
    assert message_hits({"actor_name": "nightly_rollups", "args": []}, 1, SCOPE)  # every installation

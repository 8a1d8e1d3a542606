"""DORA lead time and change failure rate of a simulated organisation: the served figure beside
an independent computation from the webhook payloads themselves, and beside the rule the app
used before (a commit credited by its own commit time), all in the same run.

The simulation (`devmetrics_app.simulation.generate_org`) is replayed through the real router
into a scratch database, rolled up, and read with `metrics.service.dora`. The truth is computed
here from the deliveries only, by the published definitions (DORA 2023 report: change lead time
"from committed to deployed"; Google Four Keys' lead_time: deployment time minus the commit's
timestamp; attribution of commits to deployments as Apache DevLake does, by what the deployed
sha contains):

- a commit reaches `main` when the push carrying it there happens (a PR's merge push);
- it is released by the first successful production deployment, in success order, whose sha
  reached `main` at or after it (main is linear: everything before is an ancestor);
- lead = that deployment's success - the commit's timestamp; merge commits and bot commits are
  not counted; the median is over commits released in the period;
- change failure rate = failed attempts / attempts, an attempt's outcome in the period; a
  deployment fails by its status, by a merged revert PR naming ("Reverts o/r#N") a PR whose merge
  commit it first shipped, or by an incident opened after it (the latest success of that
  repository at or before the incident; one closed as not planned was a false alarm).

PostgreSQL: DATABASE_URL (a scratch database `devmetrics_dora_accuracy` is created beside it and
dropped). Redis is not needed.

    PYTHONPATH=. DATABASE_URL=postgresql://127.0.0.1:5432/test \
        python benchmarks/dora_accuracy.py [--scale 1.0] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

from devmetrics_app.db import create_pool, migrate
from devmetrics_app.events import router
from devmetrics_app.events.dispatch import process_delivery
from devmetrics_app.metrics import materialize, service
from devmetrics_app.metrics.explain import Period
from devmetrics_app.simulation import INSTALLATION_ID, generate_org
from devmetrics_app.store.deliveries import IncomingDelivery, insert_batch
from devmetrics_app.timeutil import parse_ts

SCRATCH_DB = "devmetrics_dora_accuracy"
NOW = datetime(2026, 3, 6, 15, 30, tzinfo=UTC)


def truth(deliveries, period: Period) -> dict[str, float | None]:
    """Lead time median (new rule and old rule) and change failure rate from the payloads."""
    reach: dict[tuple[int, str], datetime] = {}
    commits: dict[tuple[int, str], tuple[datetime, bool, bool]] = {}  # time, merge, bot
    deploys: dict[int, dict] = {}
    merged_prs: dict[tuple[str, int], str] = {}  # (full name, number) -> merge sha
    reverts: list[tuple[int, str, int]] = []  # (repo id, named full name, named number)
    incidents: dict[int, tuple[int, datetime, bool]] = {}
    for d in deliveries:
        p = d.payload
        repo = p.get("repository") or {}
        if d.event == "push" and p["ref"] == f"refs/heads/{repo.get('default_branch')}":
            pushed = parse_ts(repo["pushed_at"])
            for c in p["commits"]:
                key = (repo["id"], c["id"])
                reach[key] = min(reach.get(key, pushed), pushed)
                commits[key] = (parse_ts(c["timestamp"]), c["message"].startswith("Merge pull request #"),
                                (c["author"].get("username") or "").endswith("[bot]"))
        elif d.event == "deployment":
            dep = p["deployment"]
            deploys.setdefault(dep["id"], {"repo": repo["id"], "sha": dep["sha"], "env": dep["environment"]})
        elif d.event == "deployment_status":
            state, at = p["deployment_status"]["state"], parse_ts(p["deployment_status"]["created_at"])
            shown = p["deployment"]
            dep = deploys.setdefault(shown["id"], {"repo": repo["id"], "sha": shown["sha"],
                                                   "env": shown["environment"]})
            if state in ("success", "failure", "error") and "outcome" not in dep:
                dep["outcome"], dep["state"] = at, state
        elif d.event == "pull_request" and p["action"] == "closed" and p["pull_request"]["merged"]:
            pr = p["pull_request"]
            merged_prs[(repo["full_name"], pr["number"])] = pr["merge_commit_sha"]
            if pr["title"].startswith('Revert "') and (pr["body"] or "").startswith("Reverts "):
                name, number = pr["body"].removeprefix("Reverts ").split("#")
                reverts.append((repo["id"], name, int(number)))
        elif d.event == "issues" and any(label["name"] == "incident" for label in p["issue"]["labels"]):
            # The latest word on each incident: one closed as not planned was a false alarm.
            incidents[p["issue"]["id"]] = (repo["id"], parse_ts(p["issue"]["created_at"]),
                                           p["issue"].get("state_reason") == "not_planned")
    prod = [dict(dep, id=i) for i, dep in deploys.items() if dep["env"] == "production" and "outcome" in dep]
    ok = sorted((dep for dep in prod if dep["state"] == "success"),
                key=lambda dep: (dep["outcome"], dep["id"]))

    def first_shipping(repo_id: int, at: datetime) -> dict | None:
        for dep in ok:
            shipped = reach.get((repo_id, dep["sha"]))
            if dep["repo"] == repo_id and shipped is not None and shipped >= at and dep["outcome"] >= at:
                return dep
        return None

    def first_by_commit_time(repo_id: int, committed: datetime) -> dict | None:
        """The old rule: the first success whose own commit is not older than this commit."""
        for dep in ok:
            own = commits.get((repo_id, dep["sha"]))
            if dep["repo"] == repo_id and own is not None and own[0] >= committed:
                return dep
        return None

    leads, old_leads = [], []
    for (repo_id, sha), (committed, merge, bot) in commits.items():
        if bot:
            continue
        if not merge:
            dep = first_shipping(repo_id, reach[(repo_id, sha)])
            if dep is not None and dep["outcome"] in period:
                leads.append((dep["outcome"] - committed).total_seconds() / 3600)
        dep = first_by_commit_time(repo_id, committed)
        if dep is not None and dep["outcome"] in period and dep["outcome"] >= committed:
            old_leads.append((dep["outcome"] - committed).total_seconds() / 3600)
    failed = {dep["id"] for dep in prod if dep["state"] != "success"}
    full_names = {d.payload["repository"]["full_name"]: d.payload["repository"]["id"]
                  for d in deliveries if "repository" in d.payload}
    for _, name, number in reverts:
        sha = merged_prs.get((name, number))
        repo_id = full_names.get(name)
        at = reach.get((repo_id, sha)) if sha else None
        dep = first_shipping(repo_id, at) if at else None
        if dep is not None:
            failed.add(dep["id"])
    for repo_id, opened, false_alarm in incidents.values():
        if false_alarm:
            continue
        before = [dep for dep in ok if dep["repo"] == repo_id and dep["outcome"] <= opened]
        if before:
            failed.add(before[-1]["id"])
    attempts = [dep for dep in prod if dep["outcome"] in period]
    cfr = (sum(dep["id"] in failed for dep in attempts) / len(attempts) * 100) if attempts else None
    return {"lead": statistics.median(leads) if leads else None, "lead_n": len(leads),
            "old_lead": statistics.median(old_leads) if old_leads else None, "cfr": cfr,
            "attempts": len(attempts), "failed": {dep["id"] for dep in attempts if dep["id"] in failed}}


async def replay(conn: asyncpg.Connection, deliveries) -> None:
    for d in deliveries:
        delivery = IncomingDelivery(delivery_id=d.delivery_id, event=d.event, action=d.payload.get("action"),
                                    installation_id=INSTALLATION_ID, hook_id=None,
                                    content_type="application/json", body=orjson.dumps(d.payload))
        await insert_batch(conn, [delivery])
        await process_delivery(conn, router, d.delivery_id, max_attempts=3)


async def main(scale: float, seed: int) -> None:
    configured = os.environ["DATABASE_URL"]
    admin = await asyncpg.connect(configured)
    name = f"{SCRATCH_DB}_{uuid.uuid4().hex[:6]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = urlunsplit(urlsplit(configured)._replace(path="/" + name))
        pool = await create_pool(url)
        async with pool.acquire() as conn:
            await migrate(conn)
            deliveries = generate_org(seed=seed, scale=scale, now=NOW)
            await replay(conn, deliveries)
            start = min(parse_ts(d.payload["repository"]["pushed_at"]) for d in deliveries
                        if d.event == "push").date()
            days = [start + timedelta(days=i) for i in range((NOW.date() - start).days + 1)]
            await materialize.recompute_installation(conn, INSTALLATION_ID, days)
            period = Period(datetime.combine(start, datetime.min.time(), tzinfo=UTC),
                            datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC))
            served = await service.dora(conn, service.Scope(INSTALLATION_ID, period), explain=True)
        await pool.close()
        expected = truth(deliveries, period)
        print(f"{len(deliveries)} deliveries (seed {seed}, scale {scale}), period {period.start.date()}"
              f" to {period.end.date()}")
        lead = served.lead_time
        print(f"lead time median: served {lead.value:.2f} h over {lead.count} commits;"
              f" independent {expected['lead']:.2f} h over {expected['lead_n']};"
              f" old rule (commit time) {expected['old_lead']:.2f} h")
        cfr = served.change_failure_rate
        print(f"change failure rate: served {cfr.value:.2f} % of"
              f" {cfr.count}; independent {expected['cfr']:.2f} % of"
              f" {expected['attempts']}")
        # explain lists at most EXPLAIN_LIMIT failed deployments: compare those it lists, and
        # all of them when the list is whole.
        served_failed = {i.id for i in cfr.items or []}
        whole = len(served_failed) == cfr.details["failed"]
        differ = served_failed ^ expected["failed"] if whole else served_failed - expected["failed"]
        for dep_id in sorted(differ):
            side = "served only" if dep_id in served_failed else "independent only"
            print(f"  deployment {dep_id}: failed {side}")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.scale, args.seed))

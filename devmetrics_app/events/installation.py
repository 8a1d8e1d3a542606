"""The app's own lifecycle: installation, installation_repositories, repository,
github_app_authorization, marketplace_purchase, organization (members) and team events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gidgethub import routing
from gidgethub.sansio import Event

from devmetrics_app.events.context import Context, Unprocessable, installation_id
from devmetrics_app.store import installations as store
from devmetrics_app.store import repositories
from devmetrics_app.store.users import mark_app_revoked, upsert_user
from devmetrics_app.timeutil import parse_ts

router = routing.Router()

REPOSITORY_UPSERT_ACTIONS = frozenset({
    "created", "edited", "renamed", "archived", "unarchived", "publicized", "privatized",
    "transferred",
})
PLAN_ACTIONS = frozenset({
    "purchased", "changed", "pending_change", "cancelled", "pending_change_cancelled",
})
PURCHASE_FIELDS = ("billing_cycle", "unit_count", "on_free_trial", "free_trial_ends_on",
                   "next_billing_date")


def _installation_object(event: Event) -> Mapping[str, Any]:
    """The full installation object; installation events are useless without it."""
    inst = event.data.get("installation")
    if not isinstance(inst, Mapping) or inst.get("id") is None or not inst.get("account"):
        raise Unprocessable(f"{event.event} delivery carries no installation account")
    return inst


# --------------------------------------------------------------------------- installation


@router.register("installation")
async def on_installation(event: Event, ctx: Context) -> None:
    """Mirror the installation (newest state wins) and its account; created also records the
    granted repositories, deleted ends the installation and removes its repositories."""
    inst = _installation_object(event)
    action = event.data.get("action")
    installed_by = await upsert_user(ctx.conn, event.data.get("sender")) if action == "created" else None
    await upsert_user(ctx.conn, inst.get("suspended_by"))
    result = await store.upsert_installation(ctx.conn, inst, installed_by_id=installed_by)
    await store.upsert_organization(ctx.conn, inst["account"], refresh=result != "stale")
    inst_id = int(inst["id"])
    if action == "deleted":
        await store.mark_installation_deleted(ctx.conn, inst_id, at=ctx.received_at)
        await repositories.remove_repositories(ctx.conn, inst_id, None, at=ctx.received_at)
    elif action == "created" and not await store.is_deleted(ctx.conn, inst_id):
        await repositories.adopt_repositories(ctx.conn, inst_id, event.data.get("repositories") or [])
        # Fill the dashboards with history: the last 90 days of every granted repository.
        ctx.followups.append(("import_installation_job", {"installation_id": inst_id}))


@router.register("installation_repositories")
async def on_installation_repositories(event: Event, ctx: Context) -> None:
    """The repository selection changed. Both lists are always present; either may be empty."""
    inst = _installation_object(event)
    inst_id = int(inst["id"])
    result = await store.upsert_installation(ctx.conn, inst)
    await store.upsert_organization(ctx.conn, inst["account"], refresh=result != "stale")
    if await store.is_deleted(ctx.conn, inst_id):
        return  # an uninstalled app has no repositories, whatever arrives late
    added = event.data.get("repositories_added") or []
    removed = event.data.get("repositories_removed") or []
    if added:
        await repositories.add_repositories(ctx.conn, inst_id, added)
        ctx.followups.extend(("import_repository_job", {"installation_id": inst_id,
                                                        "repository_id": int(repo["id"])})
                             for repo in added)
    if removed:
        await repositories.remove_repositories(ctx.conn, inst_id, [int(r["id"]) for r in removed],
                                        at=ctx.received_at)
    if added or removed:
        ctx.request_installation_rollup(inst_id)


# --------------------------------------------------------------------------- repository


@router.register("repository")
async def on_repository(event: Event, ctx: Context) -> None:
    """Full repository object, newest updated_at wins; deleted removes it for good."""
    action = event.data.get("action")
    if action not in REPOSITORY_UPSERT_ACTIONS and action != "deleted":
        return
    inst_id = installation_id(event)
    repo = event.data.get("repository")
    if not isinstance(repo, Mapping) or repo.get("id") is None:
        raise Unprocessable("repository delivery carries no repository")
    await repositories.upsert_repository(ctx.conn, inst_id, repo)
    if action == "deleted":
        await repositories.mark_repository_deleted(ctx.conn, int(repo["id"]), at=ctx.received_at)


# --------------------------------------------------------------------------- authorization


@router.register("github_app_authorization", action="revoked")
async def on_authorization_revoked(event: Event, ctx: Context) -> None:
    """The user withdrew the app's access. The payload has no installation and no time, so the
    first sighting's moment is kept: a replay must not move it."""
    user_id = await upsert_user(ctx.conn, event.data.get("sender"))
    if user_id is None:
        raise Unprocessable("github_app_authorization delivery names no user")
    already = await ctx.conn.fetchval("SELECT app_revoked_at FROM users WHERE id = $1", user_id)
    await mark_app_revoked(ctx.conn, user_id, at=already or ctx.received_at)


# --------------------------------------------------------------------------- marketplace


def _purchase_summary(purchase: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not purchase:
        return None
    summary = {key: purchase.get(key) for key in PURCHASE_FIELDS}
    summary["plan"] = purchase.get("plan")
    return summary


def plan_record(data: Mapping[str, Any]) -> dict[str, Any]:
    """What installations.plan holds: the plan in force now, plus any pending change.

    `plan` is null once cancelled (status 'cancelled'); while a change is pending the plan in
    force is the previous purchase and the new one waits under `pending`."""
    action = str(data["action"])
    current = _purchase_summary(data.get("marketplace_purchase")) or {}
    previous = _purchase_summary(data.get("previous_marketplace_purchase"))
    record: dict[str, Any] = {"action": action, "effective_date": data.get("effective_date"),
                              "status": "active", "pending": None}
    if action == "cancelled":
        record.update(status="cancelled", plan=None, cancelled=current)
    elif action == "pending_change":
        record.update(previous or {"plan": None}, status="pending_change", pending=current)
    else:
        record.update(current)
    return record


@router.register("marketplace_purchase")
async def on_marketplace_purchase(event: Event, ctx: Context) -> None:
    """Keep the account's plan on its installations; newest effective_date wins. The account
    may not have installed the app yet: then there is nothing to update, and that is fine."""
    data = event.data
    if data.get("action") not in PLAN_ACTIONS:
        return
    account = (data.get("marketplace_purchase") or {}).get("account") or {}
    effective_at = parse_ts(data.get("effective_date"))
    if account.get("id") is None or effective_at is None:
        raise Unprocessable("marketplace_purchase delivery lacks an account or effective_date")
    await store.set_plan(ctx.conn, int(account["id"]), plan_record(data), effective_at=effective_at,
                         action=str(data["action"]))


# --------------------------------------------------------------------------- organization / team


def _organization(event: Event) -> Mapping[str, Any]:
    org = event.data.get("organization")
    if not isinstance(org, Mapping) or org.get("id") is None:
        raise Unprocessable(f"{event.event} delivery names no organization")
    return org


@router.register("organization", action="member_added")
async def on_member_added(event: Event, ctx: Context) -> None:
    inst_id = installation_id(event)
    org_id = await store.upsert_organization(ctx.conn, _organization(event), refresh=False)
    membership = event.data.get("membership") or {}
    user_id = await upsert_user(ctx.conn, membership.get("user"))
    if user_id is None:
        return  # GitHub sends a null user for a membership of a deleted account
    await store.add_membership(ctx.conn, inst_id, org_id, user_id, membership.get("role"))


@router.register("organization", action="member_removed")
async def on_member_removed(event: Event, ctx: Context) -> None:
    """Removal cuts the person's access to the installation's data at once."""
    inst_id = installation_id(event)
    org_id = await store.upsert_organization(ctx.conn, _organization(event), refresh=False)
    membership = event.data.get("membership") or {}
    user_id = await upsert_user(ctx.conn, membership.get("user"))
    if user_id is None:
        return
    await store.remove_membership(ctx.conn, inst_id, org_id, user_id, at=ctx.received_at)


@router.register("team")
async def on_team(event: Event, ctx: Context) -> None:
    """Teams group developers for team metrics; a deleted team stays deleted."""
    action = event.data.get("action")
    if action not in {"created", "edited", "deleted"}:
        return
    inst_id = installation_id(event)
    org_id = await store.upsert_organization(ctx.conn, _organization(event), refresh=False)
    team = event.data.get("team")
    if not isinstance(team, Mapping) or team.get("id") is None:
        raise Unprocessable("team delivery carries no team")
    await store.upsert_team(ctx.conn, inst_id, org_id, team)
    if action == "deleted":
        await store.mark_team_deleted(ctx.conn, int(team["id"]), at=ctx.received_at)

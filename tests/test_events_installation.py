"""installation, installation_repositories, repository, github_app_authorization,
marketplace_purchase, organization and team handlers, checked on real rows."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import payloads
import pytest
from conftest import deliver
from payloads import sample

from devmetrics_app.events import installation
from devmetrics_app.timeutil import parse_ts

ROUTER = installation.router
ORG_INST = payloads.ORG_INSTALLATION_ID
SOLO_INST = payloads.SOLO_INSTALLATION_ID
OUR_EVENTS = ("installation", "installation_repositories", "repository", "github_app_authorization",
              "marketplace_purchase")
# Tables these handlers write; `updated_at` is bookkeeping and left out of comparisons.
TABLES = ("installations", "organizations", "repositories", "users", "memberships", "teams",
          "team_members", "user_tokens", "api_tokens")




async def send(pool, event: str, payload: dict, **kwargs: Any) -> str | None:
    return await deliver(pool, event, payload, router=ROUTER, **kwargs)


async def snapshot(pool) -> dict[str, list[dict]]:
    out = {}
    for table in TABLES:
        rows = await pool.fetch(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
        out[table] = sorted(({k: v for k, v in r.items() if k != "updated_at"} for r in rows),
                            key=repr)
    return out


async def inst_row(pool, inst_id: int = ORG_INST):
    return await pool.fetchrow("SELECT * FROM installations WHERE id = $1", inst_id)


async def repo_row(pool, repo_id: int):
    return await pool.fetchrow("SELECT * FROM repositories WHERE id = $1", repo_id)


def inst_event(action: str, **inst_kwargs: Any) -> dict:
    """An installation event whose installation object has the given timestamps."""
    return payloads.installation_event(action,
                                       installation_obj=payloads.installation(**inst_kwargs))


# --------------------------------------------------------------------------- every sample


@pytest.mark.parametrize(
    ("event", "label"),
    [(e, c) for e, c, _ in payloads.ALL_SAMPLES if e in OUR_EVENTS],
)
async def test_every_sample_is_processed(pool, event: str, label: str) -> None:
    assert await send(pool, event, sample(event, label)) == "processed"


async def test_ping_is_ignored(pool) -> None:
    assert await send(pool, "ping", sample("ping", "app-hook")) == "ignored"


# --------------------------------------------------------------------------- installation


async def test_created_for_organization_stores_installation_account_and_repos(pool) -> None:
    payload = sample("installation", "created-org")
    assert await send(pool, "installation", payload) == "processed"
    row = await inst_row(pool)
    assert row["account_id"] == payloads.ORG_ID
    assert row["account_login"] == "acme"
    assert row["account_type"] == "Organization"
    assert row["app_id"] == payloads.APP_ID and row["app_slug"] == payloads.APP_SLUG
    assert row["repository_selection"] == "selected"
    assert row["permissions"] == payloads.APP_PERMISSIONS
    assert row["events"] == payloads.APP_EVENTS
    assert row["installed_by_id"] == payloads.CAROL["id"]
    assert row["suspended_at"] is None and row["deleted_at"] is None
    assert row["state_changed_at"] == parse_ts(payload["installation"]["updated_at"])
    org = await pool.fetchrow("SELECT * FROM organizations WHERE id = $1", payloads.ORG_ID)
    assert org["login"] == "acme" and org["account_type"] == "Organization"
    repos = await pool.fetch("SELECT * FROM repositories ORDER BY id")
    assert [r["id"] for r in repos] == [payloads.REPO_API_ID, payloads.REPO_WEB_ID]
    assert all(r["installation_id"] == ORG_INST and r["removed_at"] is None for r in repos)
    assert repos[0]["full_name"] == "acme/api" and repos[0]["owner_login"] == "acme"
    assert repos[0]["fork"] is None  # the five-field shape does not say


async def test_created_for_personal_account_is_an_organization_of_one(pool) -> None:
    assert await send(pool, "installation", sample("installation", "created-user-account")) == \
        "processed"
    org = await pool.fetchrow("SELECT * FROM organizations WHERE id = $1", payloads.SOLO_ID)
    assert org["login"] == "solo" and org["account_type"] == "User"
    row = await inst_row(pool, SOLO_INST)
    assert row["account_type"] == "User" and row["installed_by_id"] == payloads.SOLO_ID
    assert (await repo_row(pool, payloads.REPO_TOOL_ID))["installation_id"] == SOLO_INST


async def test_created_with_epoch_timestamps(pool) -> None:
    payload = sample("installation", "created-org-epoch-timestamps")
    assert isinstance(payload["installation"]["created_at"], int)
    assert await send(pool, "installation", payload) == "processed"
    row = await inst_row(pool)
    assert row["github_created_at"] == parse_ts(payloads.at(-60 * 24))
    assert row["state_changed_at"] == parse_ts(payloads.at(-60 * 24))


async def test_created_with_null_and_empty_fields(pool) -> None:
    payload = payloads.installation_event("created", repositories=[], requester=None)
    payload["installation"].update(permissions={}, events=[], suspended_by=None, app_slug=None)
    del payload["repositories"]
    assert await send(pool, "installation", payload) == "processed"
    row = await inst_row(pool)
    assert row["permissions"] == {} and row["events"] == [] and row["app_slug"] is None
    assert await pool.fetchval("SELECT count(*) FROM repositories") == 0


async def test_bot_sender_is_stored_as_bot(pool) -> None:
    payload = payloads.installation_event("created", sender=payloads.DEPENDABOT)
    assert await send(pool, "installation", payload) == "processed"
    assert (await inst_row(pool))["installed_by_id"] == payloads.DEPENDABOT_ID
    assert await pool.fetchval("SELECT is_bot FROM users WHERE id = $1", payloads.DEPENDABOT_ID)


async def test_suspend_then_unsuspend_in_order(pool) -> None:
    await send(pool, "installation", sample("installation", "created-org"))
    suspend = inst_event("suspend", suspended_by=payloads.CAROL, suspended_at=payloads.at(1440),
                         updated_at=payloads.at(1440))
    assert await send(pool, "installation", suspend) == "processed"
    row = await inst_row(pool)
    assert row["suspended_at"] == parse_ts(payloads.at(1440))
    assert row["suspended_by_id"] == payloads.CAROL["id"]
    unsuspend = inst_event("unsuspend", updated_at=payloads.at(2000))
    assert await send(pool, "installation", unsuspend) == "processed"
    row = await inst_row(pool)
    assert row["suspended_at"] is None and row["suspended_by_id"] is None
    assert row["state_changed_at"] == parse_ts(payloads.at(2000))


async def test_late_suspend_does_not_undo_newer_unsuspend(pool) -> None:
    # The unsuspend (ISO with an offset) is newer than the suspend (unix seconds).
    unsuspend = inst_event("unsuspend")
    unsuspend["installation"]["updated_at"] = "2024-05-02T14:00:00+02:00"  # 12:00Z
    suspend = inst_event("suspend", suspended_by=payloads.CAROL, suspended_at=payloads.at(1440),
                         updated_at=payloads.at(1440), epoch_timestamps=True)  # 2024-05-02T10:00Z
    assert isinstance(suspend["installation"]["updated_at"], int)
    assert await send(pool, "installation", unsuspend) == "processed"
    assert await send(pool, "installation", suspend) == "processed"
    row = await inst_row(pool)
    assert row["suspended_at"] is None
    assert row["state_changed_at"] == parse_ts("2024-05-02T12:00:00Z")


async def test_late_created_does_not_undo_newer_permissions(pool) -> None:
    newer = dict(payloads.APP_PERMISSIONS, administration="read")
    accepted = inst_event("new_permissions_accepted", updated_at=payloads.at(300),
                          permissions=newer)
    assert await send(pool, "installation", accepted) == "processed"
    assert await send(pool, "installation", sample("installation", "created-org")) == "processed"
    row = await inst_row(pool)
    assert row["permissions"] == newer
    assert row["installed_by_id"] == payloads.CAROL["id"]  # still learnt from the late created


async def test_webhook_updates_row_written_without_stamp(pool) -> None:
    """A row the install callback wrote (no state_changed_at) must not block webhooks."""
    await pool.execute("""INSERT INTO installations (id, account_id, account_login, account_type)
                          VALUES ($1, $2, 'acme', 'Organization')""", ORG_INST, payloads.ORG_ID)
    assert await send(pool, "installation", sample("installation", "new_permissions_accepted")) == \
        "processed"
    assert (await inst_row(pool))["permissions"] == payloads.APP_PERMISSIONS


async def test_deleted_marks_installation_and_repositories(pool) -> None:
    await send(pool, "installation", sample("installation", "created-user-account"))
    assert await send(pool, "installation", sample("installation", "deleted-user-account")) == \
        "processed"
    row = await inst_row(pool, SOLO_INST)
    assert row["deleted_at"] is not None
    assert (await repo_row(pool, payloads.REPO_TOOL_ID))["removed_at"] is not None


async def test_late_created_after_deleted_stays_deleted(pool) -> None:
    assert await send(pool, "installation", sample("installation", "deleted-user-account")) == \
        "processed"
    before = await snapshot(pool)
    assert before["installations"][0]["deleted_at"] is not None
    assert await send(pool, "installation", sample("installation", "created-user-account")) == \
        "processed"
    row = await inst_row(pool, SOLO_INST)
    assert row["deleted_at"] == before["installations"][0]["deleted_at"]
    # created must not bring back repositories of an uninstalled app
    repo = await repo_row(pool, payloads.REPO_TOOL_ID)
    assert repo is None or repo["removed_at"] is not None


async def test_late_suspend_after_deleted_keeps_it_deleted(pool) -> None:
    await send(pool, "installation", inst_event("deleted", updated_at=payloads.at(100)))
    suspend = inst_event("suspend", suspended_by=payloads.CAROL, suspended_at=payloads.at(50),
                         updated_at=payloads.at(50))
    assert await send(pool, "installation", suspend) == "processed"
    row = await inst_row(pool)
    assert row["deleted_at"] is not None and row["suspended_at"] is None


async def test_replay_same_delivery_id_is_skipped(pool) -> None:
    payload = sample("installation", "created-org")
    delivery_id = str(uuid.uuid4())
    assert await send(pool, "installation", payload, delivery_id=delivery_id) == "processed"
    assert await send(pool, "installation", payload, delivery_id=delivery_id) is None


@pytest.mark.parametrize(
    ("event", "label"),
    [(e, c) for e, c, _ in payloads.ALL_SAMPLES if e in OUR_EVENTS],
)
async def test_same_payload_under_new_delivery_id_changes_nothing(pool, event: str,
                                                                   label: str) -> None:
    # Give plans somewhere to land, then replay each sample as if GitHub sent it twice.
    await send(pool, "installation", sample("installation", "created-org"))
    await send(pool, "installation", sample("installation", "created-user-account"))
    payload = sample(event, label)
    assert await send(pool, event, payload) == "processed"
    before = await snapshot(pool)
    assert await send(pool, event, payload) == "processed"
    assert await snapshot(pool) == before


async def test_installation_event_without_installation_fails(pool) -> None:
    payload = sample("installation", "created-org")
    del payload["installation"]
    assert await send(pool, "installation", payload) == "failed"
    assert await pool.fetchval("SELECT count(*) FROM installations") == 0


# --------------------------------------------------------------------------- installation_repositories


async def test_repositories_removed_then_added_again(pool) -> None:
    await send(pool, "installation", payloads.installation_event(
        "created", repositories=[payloads.REPO_API, payloads.REPO_LEGACY]))
    removed = sample("installation_repositories", "removed")
    assert await send(pool, "installation_repositories", removed) == "processed"
    legacy = await repo_row(pool, payloads.REPO_LEGACY_ID)
    assert legacy["removed_at"] is not None
    assert (await repo_row(pool, payloads.REPO_API_ID))["removed_at"] is None
    # replay under a new id does not move the moment
    assert await send(pool, "installation_repositories", removed) == "processed"
    assert (await repo_row(pool, payloads.REPO_LEGACY_ID))["removed_at"] == legacy["removed_at"]
    added = payloads.installation_repositories_event("added", added=[payloads.REPO_LEGACY])
    assert await send(pool, "installation_repositories", added) == "processed"
    assert (await repo_row(pool, payloads.REPO_LEGACY_ID))["removed_at"] is None


async def test_added_keeps_what_a_full_payload_stored(pool) -> None:
    await send(pool, "repository", sample("repository", "created"))
    assert await send(pool, "installation_repositories",
                      sample("installation_repositories", "added")) == "processed"
    row = await repo_row(pool, payloads.REPO_WEB_ID)
    assert row["default_branch"] == "main" and row["language"] == "TypeScript"
    assert row["fork"] is False and row["removed_at"] is None


async def test_late_created_does_not_revive_repository_removed_later(pool) -> None:
    await send(pool, "installation", payloads.installation_event(
        "created", repositories=[payloads.REPO_LEGACY]))
    await send(pool, "installation_repositories", sample("installation_repositories", "removed"))
    # installation.created (the oldest event of an installation) redelivered late
    await send(pool, "installation", payloads.installation_event(
        "created", repositories=[payloads.REPO_LEGACY]))
    assert (await repo_row(pool, payloads.REPO_LEGACY_ID))["removed_at"] is not None


async def test_new_installation_adopts_repository_from_old_one(pool) -> None:
    await send(pool, "installation", payloads.installation_event("created", id=1111))
    await send(pool, "installation", payloads.installation_event("deleted", id=1111))
    assert (await repo_row(pool, payloads.REPO_API_ID))["removed_at"] is not None
    await send(pool, "installation", payloads.installation_event("created", id=2222))
    row = await repo_row(pool, payloads.REPO_API_ID)
    assert row["installation_id"] == 2222 and row["removed_at"] is None


async def test_repositories_added_to_deleted_installation_are_ignored(pool) -> None:
    await send(pool, "installation", payloads.installation_event("deleted"))
    await send(pool, "installation_repositories", sample("installation_repositories", "added"))
    row = await repo_row(pool, payloads.REPO_WEB_ID)
    assert row is None or row["removed_at"] is not None


# --------------------------------------------------------------------------- repository


async def test_repository_created_stores_full_object(pool) -> None:
    assert await send(pool, "repository", sample("repository", "created")) == "processed"
    row = await repo_row(pool, payloads.REPO_WEB_ID)
    assert row["installation_id"] == ORG_INST and row["full_name"] == "acme/web"
    assert row["private"] is True and row["fork"] is False and row["archived"] is False
    assert row["github_updated_at"] == parse_ts(payloads.REPO_WEB["updated_at"])


async def test_repository_full_payload_fills_a_small_row(pool) -> None:
    await send(pool, "installation", sample("installation", "created-org"))
    await send(pool, "repository", sample("repository", "created"))
    row = await repo_row(pool, payloads.REPO_WEB_ID)
    assert row["default_branch"] == "main" and row["github_updated_at"] is not None


async def test_late_older_repository_event_does_not_undo_rename(pool) -> None:
    renamed = payloads.repository_event("renamed", repo={
        **payloads.REPO_WEB, "name": "site", "full_name": "acme/site", "updated_at": payloads.at(100)})
    older = payloads.repository_event("edited", repo={**payloads.REPO_WEB,
                                                      "updated_at": payloads.at(50)})
    assert await send(pool, "repository", renamed) == "processed"
    assert await send(pool, "repository", older) == "processed"
    row = await repo_row(pool, payloads.REPO_WEB_ID)
    assert row["name"] == "site" and row["full_name"] == "acme/site"


async def test_late_unarchived_does_not_undo_newer_archive(pool) -> None:
    archived = payloads.repository_event("archived", repo={
        **payloads.REPO_LEGACY, "archived": True, "updated_at": payloads.at(10)})
    unarchived = payloads.repository_event("unarchived", repo={
        **payloads.REPO_LEGACY, "archived": False, "updated_at": payloads.at(5)})
    await send(pool, "repository", archived)
    await send(pool, "repository", unarchived)
    assert (await repo_row(pool, payloads.REPO_LEGACY_ID))["archived"] is True


async def test_repository_deleted_is_final(pool) -> None:
    assert await send(pool, "repository", sample("repository", "deleted")) == "processed"
    removed_at = (await repo_row(pool, payloads.REPO_LEGACY_ID))["removed_at"]
    assert removed_at is not None
    # an edit from before the deletion arrives late
    await send(pool, "repository", payloads.repository_event("edited", repo=payloads.REPO_LEGACY))
    assert (await repo_row(pool, payloads.REPO_LEGACY_ID))["removed_at"] == removed_at


async def test_repository_event_for_user_account_and_bot_sender(pool) -> None:
    payload = payloads.repository_event("publicized", repo=payloads.REPO_TOOL,
                                        sender=payloads.DEPENDABOT)
    assert "organization" not in payload
    assert await send(pool, "repository", payload) == "processed"
    row = await repo_row(pool, payloads.REPO_TOOL_ID)
    assert row["installation_id"] == SOLO_INST and row["owner_login"] == "solo"


async def test_repository_without_installation_fails(pool) -> None:
    payload = sample("repository", "created")
    del payload["installation"]
    assert await send(pool, "repository", payload) == "failed"
    assert await pool.fetchval("SELECT count(*) FROM repositories") == 0


# --------------------------------------------------------------------------- authorization


async def test_authorization_revoked_revokes_user_and_tokens(pool) -> None:
    alice = payloads.ALICE["id"]
    await pool.execute("INSERT INTO users (id, login) VALUES ($1, 'alice')", alice)
    await pool.execute("INSERT INTO user_tokens (user_id, access_token_enc) VALUES ($1, 'x')", alice)
    await pool.execute("""INSERT INTO api_tokens (id, user_id, name, token_hash)
                          VALUES ('t1', $1, 'ci', 'h1')""", alice)
    payload = sample("github_app_authorization", "revoked")
    assert "installation" not in payload
    assert await send(pool, "github_app_authorization", payload) == "processed"
    revoked_at = await pool.fetchval("SELECT app_revoked_at FROM users WHERE id = $1", alice)
    assert revoked_at is not None
    assert await pool.fetchval("SELECT revoked_at FROM user_tokens WHERE user_id = $1", alice)
    assert await pool.fetchval("SELECT revoked_at FROM api_tokens WHERE id = 't1'")
    before = await snapshot(pool)
    assert await send(pool, "github_app_authorization", payload) == "processed"
    assert await snapshot(pool) == before


async def test_authorization_revoked_by_unknown_user_is_recorded(pool) -> None:
    payload = payloads.github_app_authorization_event(sender=payloads.BOB)
    assert await send(pool, "github_app_authorization", payload) == "processed"
    assert await pool.fetchval("SELECT app_revoked_at FROM users WHERE id = $1",
                               payloads.BOB["id"]) is not None


# --------------------------------------------------------------------------- marketplace


async def plan_of(pool, inst_id: int = ORG_INST) -> tuple[dict | None, Any]:
    row = await inst_row(pool, inst_id)
    return row["plan"], row["plan_effective_at"]


async def test_purchase_before_installation_stores_nothing(pool) -> None:
    assert await send(pool, "marketplace_purchase",
                      sample("marketplace_purchase", "purchased-org")) == "processed"
    assert await pool.fetchval("SELECT count(*) FROM installations") == 0


async def test_purchase_sets_plan(pool) -> None:
    await send(pool, "installation", sample("installation", "created-org"))
    await send(pool, "marketplace_purchase", sample("marketplace_purchase", "purchased-org"))
    plan, effective = await plan_of(pool)
    assert plan["status"] == "active" and plan["plan"]["name"] == "Team"
    assert plan["billing_cycle"] == "monthly" and plan["unit_count"] == 1
    assert effective == parse_ts("2024-05-01T00:00:00+00:00")


async def test_user_account_free_trial(pool) -> None:
    await send(pool, "installation", sample("installation", "created-org"))
    await send(pool, "installation", sample("installation", "created-user-account"))
    await send(pool, "marketplace_purchase",
               sample("marketplace_purchase", "purchased-user-free-trial"))
    plan, _ = await plan_of(pool, SOLO_INST)
    assert plan["on_free_trial"] is True and plan["free_trial_ends_on"] == "2024-05-15T00:00:00+00:00"
    assert (await plan_of(pool))[0] is None  # the org's installation is untouched


async def test_late_purchase_does_not_undo_newer_change(pool) -> None:
    await send(pool, "installation", sample("installation", "created-org"))
    await send(pool, "marketplace_purchase", sample("marketplace_purchase", "changed-upgrade"))
    await send(pool, "marketplace_purchase", sample("marketplace_purchase", "purchased-org"))
    plan, effective = await plan_of(pool)
    assert plan["plan"]["name"] == "Business" and plan["unit_count"] == 25
    assert effective == parse_ts("2024-05-10T00:00:00+00:00")


async def test_pending_change_keeps_current_plan_and_records_pending(pool) -> None:
    await send(pool, "installation", sample("installation", "created-org"))
    await send(pool, "marketplace_purchase", sample("marketplace_purchase", "changed-upgrade"))
    await send(pool, "marketplace_purchase",
               sample("marketplace_purchase", "pending_change-downgrade"))
    plan, _ = await plan_of(pool)
    assert plan["status"] == "pending_change"
    assert plan["plan"]["name"] == "Business"  # in force until the change takes effect
    assert plan["pending"]["plan"]["name"] == "Free"


async def test_changed_beats_pending_change_of_the_same_date_in_any_order(pool) -> None:
    await send(pool, "installation", sample("installation", "created-org"))
    day = "2024-06-01T00:00:00+00:00"
    changed = payloads.marketplace_purchase_event(
        "changed", purchase=payloads.marketplace_purchase(plan=payloads.FREE_PLAN),
        effective_date=day)
    await send(pool, "marketplace_purchase", changed)
    await send(pool, "marketplace_purchase",
               sample("marketplace_purchase", "pending_change-downgrade"))
    plan, _ = await plan_of(pool)
    assert plan["action"] == "changed" and plan["plan"]["name"] == "Free" and plan["pending"] is None


async def test_cancelled_clears_plan_and_late_change_does_not_revive_it(pool) -> None:
    await send(pool, "installation", sample("installation", "created-org"))
    await send(pool, "marketplace_purchase", sample("marketplace_purchase", "cancelled"))
    await send(pool, "marketplace_purchase", sample("marketplace_purchase", "changed-upgrade"))
    plan, effective = await plan_of(pool)
    assert plan["status"] == "cancelled" and plan["plan"] is None
    assert plan["cancelled"]["plan"]["name"] == "Business"
    assert effective == parse_ts("2024-07-01T00:00:00+00:00")


async def test_purchase_without_account_fails(pool) -> None:
    payload = sample("marketplace_purchase", "purchased-org")
    payload["marketplace_purchase"]["account"] = None
    assert await send(pool, "marketplace_purchase", payload) == "failed"


# --------------------------------------------------------------------------- organization / team


def member_event(action: str, who: dict, role: str = "member") -> dict:
    """organization.member_added / member_removed as GitHub sends them."""
    org = payloads.organization()
    return copy.deepcopy({
        "action": action,
        "membership": {
            "url": f"{payloads.API}/orgs/acme/memberships/{who['login']}",
            "state": "active",
            "role": role,
            "organization_url": f"{payloads.API}/orgs/acme",
            "user": who,
        },
        "organization": org,
        "sender": payloads.CAROL,
        "installation": payloads.installation_ref(),
    })


def team_event(action: str, team: dict) -> dict:
    return copy.deepcopy({"action": action, "team": team, "organization": payloads.organization(),
                          "sender": payloads.CAROL, "installation": payloads.installation_ref()})


async def membership(pool, user_id: int):
    return await pool.fetchrow(
        "SELECT * FROM memberships WHERE installation_id = $1 AND user_id = $2", ORG_INST, user_id)


async def test_member_added_and_removed(pool) -> None:
    alice = payloads.ALICE
    assert await send(pool, "organization", member_event("member_added", alice)) == "processed"
    row = await membership(pool, alice["id"])
    assert row["github_role"] == "member" and row["role"] == "DEVELOPER"
    assert row["source"] == "github" and row["removed_at"] is None
    assert row["organization_id"] == payloads.ORG_ID
    assert await send(pool, "organization", member_event("member_removed", alice)) == "processed"
    assert (await membership(pool, alice["id"]))["removed_at"] is not None


async def test_admin_member_gets_admin_role(pool) -> None:
    await send(pool, "organization", member_event("member_added", payloads.CAROL, role="admin"))
    assert (await membership(pool, payloads.CAROL["id"]))["role"] == "ADMIN"


async def test_late_member_added_does_not_restore_access(pool) -> None:
    bob = payloads.BOB
    assert await send(pool, "organization", member_event("member_removed", bob)) == "processed"
    removed_at = (await membership(pool, bob["id"]))["removed_at"]
    assert removed_at is not None
    assert await send(pool, "organization", member_event("member_added", bob)) == "processed"
    assert (await membership(pool, bob["id"]))["removed_at"] == removed_at


async def test_member_replay_changes_nothing(pool) -> None:
    for action in ("member_added", "member_removed"):
        payload = member_event(action, payloads.ALICE)
        await send(pool, "organization", payload)
        before = await snapshot(pool)
        await send(pool, "organization", payload)
        assert await snapshot(pool) == before


async def test_manual_role_survives_member_added(pool) -> None:
    await pool.execute("""INSERT INTO memberships (installation_id, organization_id, user_id, role,
                          source) VALUES ($1, $2, $3, 'MANAGER', 'manual')""",
                       ORG_INST, payloads.ORG_ID, payloads.BOB["id"])
    await send(pool, "organization", member_event("member_added", payloads.BOB))
    row = await membership(pool, payloads.BOB["id"])
    assert row["role"] == "MANAGER" and row["github_role"] == "member"


async def test_member_event_with_null_user_is_processed(pool) -> None:
    payload = member_event("member_added", payloads.ALICE)
    payload["membership"]["user"] = None
    assert await send(pool, "organization", payload) == "processed"
    assert await pool.fetchval("SELECT count(*) FROM memberships") == 0


async def test_team_created_edited_deleted(pool) -> None:
    team = payloads.BACKEND_TEAM
    assert await send(pool, "team", team_event("created", team)) == "processed"
    row = await pool.fetchrow("SELECT * FROM teams WHERE id = $1", team["id"])
    assert row["slug"] == "backend" and row["installation_id"] == ORG_INST
    await send(pool, "team", team_event("edited", {**team, "name": "Back end"}))
    assert await pool.fetchval("SELECT name FROM teams WHERE id = $1", team["id"]) == "Back end"
    await send(pool, "team", team_event("deleted", team))
    assert await pool.fetchval("SELECT deleted_at FROM teams WHERE id = $1", team["id"])


async def test_late_team_created_after_deleted_stays_deleted(pool) -> None:
    team = payloads.BACKEND_TEAM
    await send(pool, "team", team_event("deleted", team))
    await send(pool, "team", team_event("created", team))
    assert await pool.fetchval("SELECT deleted_at FROM teams WHERE id = $1", team["id"])

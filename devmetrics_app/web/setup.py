"""Registering the GitHub App from the browser (the manifest flow) and the install callback.

GET  /setup              the "Register GitHub App" button (a form that POSTs our manifest to
                         GitHub) and the "I already have an app" form; only while no app is set up
GET  /setup/callback     GitHub returns with `code` and our `state`: convert the code into the
                         app's credentials, store them encrypted, go on to the install page
POST /setup/existing     store credentials of an app registered by hand
GET  /setup/installed    GitHub's setup_url after an installation: record it, say what's next

Once credentials exist these pages refuse to change them: whoever reached the setup page last
must not be able to take over a running deployment.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from urllib.parse import quote, urlencode

import aiohttp
import aiohttp_jinja2
import jwt
import orjson
from aiohttp import web
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from devmetrics_app.digits import bounded_int, is_decimal
from devmetrics_app.manifest import build_manifest
from devmetrics_app.store import app_credentials, installations
from devmetrics_app.store.app_credentials import StoredAppCredentials
from devmetrics_app.web import responses
from devmetrics_app.web.api.params import MAX_ID, form_of
from devmetrics_app.web.identity import principal_of
from devmetrics_app.web.keys import BOX, CREDENTIALS, HTTP, POOL, REDIS, SETTINGS
from devmetrics_app.web.public_host import require_public_host
from devmetrics_app.web.reachability import unreachable_from_github
from devmetrics_app.web.tenancy import forget_github_list, visible_installations

log = logging.getLogger(__name__)

STATE_PREFIX = "devmetrics:manifest-state:"
STATE_TTL_SECONDS = 3600
CSRF_COOKIE = "devmetrics_setup_csrf"
ORG_LOGIN_MAX = 39
routes = web.RouteTableDef()


async def _configured(request: web.Request) -> bool:
    return await request.app[CREDENTIALS]() is not None


def _already_configured() -> web.Response:
    return responses.error(409, "already_configured",
                           "the GitHub App is already set up; change credentials in the environment")


def _valid_org(login: str) -> bool:
    return 0 < len(login) <= ORG_LOGIN_MAX and all(c.isalnum() or c == "-" for c in login)


@routes.get("/setup")
async def setup_page(request: web.Request) -> web.Response:
    require_public_host(request)
    if await _configured(request):
        raise web.HTTPFound("/")
    settings = request.app[SETTINGS]
    organization = request.query.get("organization", "").strip()
    if organization and not _valid_org(organization):
        return responses.error(400, "invalid", "not a GitHub organisation login", field="organization")
    state = secrets.token_urlsafe(32)
    await request.app[REDIS].set(STATE_PREFIX + state, b"1", ex=STATE_TTL_SECONDS)
    base = settings.github_url
    path = (f"/organizations/{quote(organization)}/settings/apps/new" if organization
            else "/settings/apps/new")
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template("setup.html", request, {
        "action": f"{base}{path}?{urlencode({'state': state})}",
        "manifest": orjson.dumps(build_manifest(settings.public_url)).decode(),
        "organization": organization,
        "public_url": settings.public_url,
        "unreachable": unreachable_from_github(settings.public_url, github_url=settings.github_url),
        "csrf_token": csrf,
    })
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="Strict",
                        secure=settings.public_url.startswith("https://"), path="/setup")
    return response


@routes.get("/setup/callback")
async def manifest_callback(request: web.Request) -> web.Response:
    if await _configured(request):
        return _already_configured()
    state = request.query.get("state", "")
    if not state or await request.app[REDIS].getdel(STATE_PREFIX + state) is None:
        return responses.error(400, "bad_state", "unknown or expired setup state; start the setup again")
    code = request.query.get("code", "")
    if not code or len(code) > 200 or not code.replace("-", "").replace("_", "").isalnum():
        return responses.error(400, "bad_request", "missing or malformed code", field="code")
    settings = request.app[SETTINGS]
    url = f"{settings.github_api_url}/app-manifests/{quote(code)}/conversions"
    async with request.app[HTTP].post(url, headers={"Accept": "application/vnd.github+json",
                                                    "User-Agent": "DevMetrics"},
                                      timeout=aiohttp.ClientTimeout(total=20)) as answer:
        if answer.status != 201:
            log.warning("manifest conversion failed with %s", answer.status)
            return responses.error(502, "conversion_failed",
                                   "GitHub did not convert the code (it is single-use and expires "
                                   "after an hour); start the setup again")
        app = await answer.json()
    stored = StoredAppCredentials(
        app_id=int(app["id"]), slug=app["slug"], html_url=app.get("html_url"),
        client_id=app["client_id"], client_secret=app["client_secret"], private_key=app["pem"],
        webhook_secret=app["webhook_secret"])
    if not await _store(request, stored):
        return _already_configured()
    raise web.HTTPFound(f"{app.get('html_url') or settings.github_url + '/apps/' + app['slug']}"
                        "/installations/new")


def _check_private_key(pem: str, app_id: int) -> str | None:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
        jwt.encode({"iss": str(app_id)}, key, algorithm="RS256")  # type: ignore[arg-type]
    except (ValueError, TypeError, jwt.PyJWTError):
        return "private_key: not an RSA private key in PEM form"
    return None


@routes.post("/setup/existing")
async def existing_app(request: web.Request) -> web.Response:
    if await _configured(request):
        return _already_configured()
    form = await form_of(request)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    supplied = str(form.get("csrf_token", ""))
    if not cookie or not hmac.compare_digest(cookie, supplied):
        return responses.error(403, "csrf", "missing or wrong CSRF token; reload the setup page")
    fields = {k: str(form.get(k, "")).strip() for k in
              ("app_id", "slug", "private_key", "webhook_secret", "client_id", "client_secret")}
    for name, value in fields.items():
        if not value:
            return responses.error(400, "invalid", f"{name} is required", field=name)
    if not is_decimal(fields["app_id"]):
        return responses.error(400, "invalid", "app_id must be the numeric app id", field="app_id")
    pem = fields["private_key"].replace("\r\n", "\n")
    if problem := _check_private_key(pem, int(fields["app_id"])):
        return responses.error(400, "invalid", problem, field="private_key")
    stored = StoredAppCredentials(
        app_id=int(fields["app_id"]), slug=fields["slug"],
        html_url=f"{request.app[SETTINGS].github_url}/apps/{fields['slug']}",
        client_id=fields["client_id"], client_secret=fields["client_secret"], private_key=pem,
        webhook_secret=fields["webhook_secret"])
    if not await _store(request, stored):
        return _already_configured()
    raise web.HTTPFound(f"{stored.html_url}/installations/new")


async def _store(request: web.Request, stored: StoredAppCredentials) -> bool:
    saved = await app_credentials.save(request.app[POOL], request.app[BOX], stored)
    request.app[CREDENTIALS].forget()
    if saved:
        log.info("GitHub App %s (%s) registered through the setup page", stored.slug, stored.app_id)
    return saved


@routes.get("/setup/installed")
async def installed(request: web.Request) -> web.Response:
    """GitHub's setup_url. The installation itself is recorded by its webhook (signed, so
    trustworthy); this page only tells the admin what happens next.

    Anyone can open this URL with any installation_id, so it names the account only to a
    signed-in user whom GitHub lists on that installation (GitHub's advice for setup URLs);
    everyone else gets the same page whether the installation exists or not."""
    raw_id = request.query.get("installation_id", "")
    action = request.query.get("setup_action", "install")
    installation_id = bounded_int(raw_id, MAX_ID)
    if not installation_id:
        return responses.error(400, "invalid", "installation_id must be a number",
                               field="installation_id")
    return aiohttp_jinja2.render_template("installed.html", request, {
        "installation_id": installation_id,
        "account": await _account_for_installer(request, installation_id),
        "signed_in": principal_of(request) is not None,
        "action": action if action in {"install", "update", "request"} else "install",
    })


async def _account_for_installer(request: web.Request, installation_id: int) -> str | None:
    principal = principal_of(request)
    if principal is None:
        return None
    # The installation is seconds old: GitHub's list for this user, cached before it, is stale.
    await forget_github_list(request.app[REDIS], principal.user_id)
    if installation_id not in await visible_installations(request):
        return None
    return await installations.account_login(request.app[POOL], installation_id)

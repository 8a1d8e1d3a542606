"""Sign in with GitHub: the GitHub App user-to-server OAuth web flow, and the user's own view.

Expiring user tokens come with a refresh token; both are exchanged at GITHUB_URL (github.com
or a GitHub Enterprise Server), while the user's data comes from GITHUB_API_URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from gidgethub import BadRequest
from gidgethub.aiohttp import GitHubAPI

from devmetrics_app.store.auth import OAuthTokens
from devmetrics_app.timeutil import utcnow

USER_AGENT = "DevMetrics"
OAUTH_TIMEOUT = aiohttp.ClientTimeout(total=15)


class OAuthError(Exception):
    """GitHub refused the code or refresh token (expired, reused, revoked)."""


@dataclass(frozen=True)
class OAuthClient:
    session: aiohttp.ClientSession
    github_url: str
    api_url: str
    client_id: str
    client_secret: str

    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        query = urlencode({"client_id": self.client_id, "redirect_uri": redirect_uri,
                           "state": state, "allow_signup": "false"})
        return f"{self.github_url}/login/oauth/authorize?{query}"

    async def exchange(self, *, code: str, redirect_uri: str) -> OAuthTokens:
        return await self._token_request({"code": code, "redirect_uri": redirect_uri})

    async def refresh(self, refresh_token: str) -> OAuthTokens:
        return await self._token_request({"grant_type": "refresh_token",
                                          "refresh_token": refresh_token})

    async def _token_request(self, fields: dict[str, str]) -> OAuthTokens:
        data = {"client_id": self.client_id, "client_secret": self.client_secret, **fields}
        async with self.session.post(f"{self.github_url}/login/oauth/access_token", data=data,
                                     headers={"Accept": "application/json",
                                              "User-Agent": USER_AGENT},
                                     timeout=OAUTH_TIMEOUT) as response:
            if response.status >= 400:
                raise OAuthError(f"token endpoint answered {response.status}")
            body: dict[str, Any] = await response.json(content_type=None)
        if "error" in body or "access_token" not in body:
            raise OAuthError(str(body.get("error_description") or body.get("error") or "no token"))
        now = utcnow()
        expires_in = body.get("expires_in")
        refresh_in = body.get("refresh_token_expires_in")
        return OAuthTokens(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token"),
            expires_at=now + timedelta(seconds=int(expires_in)) if expires_in else None,
            refresh_expires_at=now + timedelta(seconds=int(refresh_in)) if refresh_in else None,
        )

    def as_user(self, access_token: str) -> GitHubAPI:
        return GitHubAPI(self.session, USER_AGENT, oauth_token=access_token, base_url=self.api_url)

    async def user(self, access_token: str) -> dict[str, Any]:
        try:
            return await self.as_user(access_token).getitem("/user")
        except BadRequest as exc:  # 401: the token is dead
            raise OAuthError(f"GitHub rejected the user token: {exc.status_code}") from None

    async def installation_ids(self, access_token: str) -> set[int]:
        """The app's installations this user can reach (GitHub's own access rules)."""
        ids = set()
        try:
            async for installation in self.as_user(access_token).getiter(
                    "/user/installations", iterable_key="installations"):
                ids.add(int(installation["id"]))
        except BadRequest as exc:
            raise OAuthError(f"GitHub rejected the user token: {exc.status_code}") from None
        return ids

"""Typed keys for what the application object carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from devmetrics_app.config import Settings
from devmetrics_app.crypto import SecretBox
from devmetrics_app.github.client import GitHubClients
from devmetrics_app.github.oauth import OAuthClient
from devmetrics_app.github.provider import CredentialsProvider
from devmetrics_app.ingest_priority import IngestMeter
from devmetrics_app.store.delivery_writer import DeliveryWriter
from devmetrics_app.web.sessions import SessionStore

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS = web.AppKey("redis", aioredis.Redis)
WRITER = web.AppKey("writer", DeliveryWriter)
HTTP = web.AppKey("http", aiohttp.ClientSession)
BOX = web.AppKey("box", SecretBox)
SESSIONS = web.AppKey("sessions", SessionStore)
CREDENTIALS = web.AppKey("credentials", CredentialsProvider)
# Enqueue a Dramatiq actor by name with keyword arguments (from the web process).
SEND = web.AppKey("send", Callable[..., Awaitable[None]])
# The OAuth client for sign-in, or None while the app has no client id/secret.
OAUTH = web.AppKey("oauth", Callable[[], Awaitable[OAuthClient | None]])
GITHUB = web.AppKey("github", GitHubClients)
# serve with its workers: counts webhooks answered, so the workers give way in a burst.
INGEST_METER = web.AppKey("ingest_meter", IngestMeter)

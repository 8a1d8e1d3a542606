"""Typed keys for what the application object carries."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from devmetrics_app.config import Settings
from devmetrics_app.store.delivery_writer import DeliveryWriter

Enqueue = Callable[[list[str]], None]

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS = web.AppKey("redis", aioredis.Redis)
WRITER = web.AppKey("writer", DeliveryWriter)

"""Connection pool, transactions and the migration runner.

Migrations are plain SQL files `sql/NNN_name.sql`, applied in order, once each, each in its own
transaction, recorded in `schema_migrations`. An advisory lock makes concurrent start-ups (web
and worker booting together) apply them once.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import orjson

from devmetrics_app.project_files import project_path

log = logging.getLogger(__name__)


MIGRATION_FILE = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
MIGRATION_LOCK_ID = 0x6465766D  # "devm": any constant shared by every process of the app
DEFAULT_POOL_MAX = 10
# asyncpg waits 60 s for a new connection by default; an unreachable server should fail a
# request (503, web/outage.py) or a job (retried) well before that.
CONNECT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def _json_dumps(value: object) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=_json_dumps, decoder=orjson.loads,
                                  schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = DEFAULT_POOL_MAX) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection,
                                     timeout=CONNECT_TIMEOUT_SECONDS)


def load_migrations(sql_dir: Path | None = None) -> list[Migration]:
    sql_dir = sql_dir or project_path("sql")
    migrations = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like 001_name.sql: {path.name}")
        migrations.append(Migration(int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a number in {sql_dir}")
    return migrations


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply pending migrations; return the names applied."""
    migrations = load_migrations() if migrations is None else migrations
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_ID)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {row["version"]: row for row in await conn.fetch("SELECT * FROM schema_migrations")}
        for migration in migrations:
            if migration.version in done:
                if done[migration.version]["checksum"] != migration.checksum:
                    log.warning("applied migration %s has changed on disk; add a new one instead",
                                migration.name)
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version, migration.name, migration.checksum,
                )
            applied.append(migration.name)
            log.info("applied migration %s", migration.name)
    return applied

"""Schemathesis fuzzes every operation of /api/openapi.json against the running app, signed in
as a member of the seeded organisation: no answer may be a server error, and every answer must
be one the document declares (status, content type, schema).

Bounded (a few examples per operation, one worker, a fixed seed) so it runs in well under a
minute; `schemathesis run` with a larger --max-examples against a dev server digs deeper."""

from __future__ import annotations

import asyncio
import sys

import pytest
from api_support import ORG, seed_world
from test_auth import api_sign_in, seed_user

pytest.importorskip("schemathesis")

MAX_EXAMPLES = 5
CHECKS = ("all",)
# A schema-valid cursor, OAuth state or date string can still be refused (400): cursors and
# states are signed values only the app issues, and `from`/`to` are calendar-checked.
EXCLUDED_CHECKS = ("positive_data_acceptance",)
SEED = 20261204
GIVE_UP_SECONDS = 300


async def test_schemathesis_finds_no_server_errors(github_client, pool, tmp_path) -> None:
    client, state = github_client
    await seed_world(pool, rollups=True)
    seed_user(state, "alice", installations=(ORG,))
    token = await api_sign_in(client, state, "alice")
    # The app runs on this test's event loop, so schemathesis runs beside it as a process.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "run", str(client.make_url("/api/openapi.json")),
        "--checks", ",".join(CHECKS), "--exclude-checks", ",".join(EXCLUDED_CHECKS),
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
        "--workers", "1", "--no-color", "--generation-database", "none",
        "--header", f"Authorization: Bearer {token}",
        # Signing out would revoke the token every later request carries.
        "--exclude-path", "/api/auth/logout",
        "--report-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path)
    async with asyncio.timeout(GIVE_UP_SECONDS):
        output, _ = await process.communicate()
    transcript = tmp_path / "schemathesis.txt"
    transcript.write_bytes(output)
    assert process.returncode == 0, f"see {transcript}:\n" + output.decode()[-20000:]

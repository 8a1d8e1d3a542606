"""`devmetrics replay`: JSON Lines files, directories and standard input, through the real pipeline."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from devmetrics_app.replay import ReplayError, load_source
from devmetrics_app.simulation import generate_org, write_jsonl

NOW = datetime(2026, 3, 6, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def deliveries():
    return generate_org(seed=4, scale=0.05, now=NOW, weeks=1)[:12]


def test_a_json_lines_file_is_one_delivery_per_line(tmp_path: Path, deliveries) -> None:
    path = tmp_path / "org.jsonl"
    path.write_text(write_jsonl(deliveries) + "\n")  # a trailing blank line is fine
    loaded = load_source(str(path))
    assert [d.delivery_id for d in loaded] == [d.delivery_id for d in deliveries]
    assert [d.event for d in loaded] == [d.event for d in deliveries]
    assert orjson.loads(loaded[3].body) == deliveries[3].payload


def test_a_directory_holds_single_documents_and_json_lines(tmp_path: Path, deliveries) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.json").write_bytes(orjson.dumps(deliveries[0].to_dict(), option=orjson.OPT_INDENT_2))
    (tmp_path / "b" / "rest.jsonl").write_text(write_jsonl(deliveries[1:]))
    (tmp_path / "notes.txt").write_text("not a delivery")
    loaded = load_source(str(tmp_path))
    assert [d.delivery_id for d in loaded] == [d.delivery_id for d in deliveries]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReplayError, match=r"no \.json"):
        load_source(str(tmp_path / "empty"))


def test_standard_input(deliveries) -> None:
    stdin = io.BytesIO(write_jsonl(deliveries[:3]).encode())
    assert [d.delivery_id for d in load_source("-", stdin=stdin)] == [d.delivery_id for d in deliveries[:3]]


def test_a_broken_line_is_named(tmp_path: Path, deliveries) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(deliveries[0].to_jsonl() + "\n{not json\n")
    with pytest.raises(ReplayError, match=r"broken\.jsonl:2"):
        load_source(str(path))
    bare = tmp_path / "bare.jsonl"
    bare.write_text(orjson.dumps(deliveries[0].payload).decode() + "\n"
                    + orjson.dumps(deliveries[1].payload).decode() + "\n")
    with pytest.raises(ReplayError, match=r"bare\.jsonl:1: no event name"):
        load_source(str(bare))


async def test_replay_command_reads_stdin_and_processes_inline(settings, pool, deliveries) -> None:
    env = {**os.environ, "DEVMETRICS_ENV": "test", "DATABASE_URL": settings.database_url.get(),
           "REDIS_URL": settings.redis_url.get(), "SECRET_KEY": settings.secret_key.get(),
           "DEVMETRICS_DATA_DIR": str(settings.data_dir), "LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devmetrics_app.cli", "replay", "-", "--inline", env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(write_jsonl(deliveries).encode()), timeout=120)
    assert process.returncode == 0, err.decode()
    assert f"{len(deliveries)} deliveries: {len(deliveries)} new" in out.decode()
    statuses = dict(await pool.fetch("SELECT status, count(*) FROM webhook_deliveries GROUP BY status"))
    assert statuses == {"processed": len(deliveries)}

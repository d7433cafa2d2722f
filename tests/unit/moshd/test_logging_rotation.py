"""moshd.logging: the JSON log file rotates by itself, and every JSON line names its daemon."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from moshd.cli import detached_daemon_argv
from moshd.logging import configure_logging


@pytest.fixture(autouse=True)
def restore_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
    file_logger = logging.getLogger("moshd.log_file")
    for handler in list(file_logger.handlers):
        file_logger.removeHandler(handler)
        handler.close()


def lines_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_log_file_is_rotated_keeping_a_bounded_number_of_files(tmp_path: Path) -> None:
    log_file = tmp_path / "state" / "moshd" / "moshd.log"
    configure_logging("json", log_file=log_file, max_bytes=4096, backups=2)
    log = structlog.get_logger("test")
    for n in range(500):
        log.info("test.event", n=n)
    names = sorted(path.name for path in log_file.parent.iterdir())
    assert names == ["moshd.log", "moshd.log.1", "moshd.log.2"]
    for path in log_file.parent.iterdir():
        assert path.stat().st_size <= 4096
    newest = lines_of(log_file)
    assert newest[-1]["n"] == 499  # the live file has the latest; the oldest were dropped
    assert lines_of(log_file.with_name("moshd.log.2"))[0]["n"] > 0


def test_every_json_line_carries_the_daemon_pid(tmp_path: Path) -> None:
    log_file = tmp_path / "moshd.log"
    configure_logging("json", log_file=log_file)
    log = structlog.get_logger("test")
    log.info("test.first")
    log.warning("test.second", pid=12345)  # a session child's pid is another field
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("test.failed")
    lines = lines_of(log_file)
    assert [line["event"] for line in lines] == ["test.first", "test.second", "test.failed"]
    assert all(line["daemon_pid"] == os.getpid() for line in lines)
    assert lines[1]["pid"] == 12345


def test_json_to_a_stream_carries_the_daemon_pid_too() -> None:
    out = io.StringIO()
    configure_logging("json", stream=out)
    structlog.get_logger("test").info("test.event")
    assert json.loads(out.getvalue())["daemon_pid"] == os.getpid()


def test_console_lines_for_humans_have_no_pid_noise() -> None:
    out = io.StringIO()
    configure_logging("console", stream=out)
    structlog.get_logger("test").info("test.event")
    assert "daemon_pid" not in out.getvalue()


# Run in a child whose stderr is the log file, as `mosh-server` starts the detached daemon.
_STDERR_FOLLOWS = """\
import sys
from pathlib import Path
import structlog
from moshd.logging import configure_logging
configure_logging("json", log_file=Path(sys.argv[1]), max_bytes=2048, backups=3)
for n in range(100):
    structlog.get_logger().info("test.event", n=n)
print("stray traceback text", file=sys.stderr, flush=True)
"""


def test_stderr_follows_the_live_log_file_across_rotations(tmp_path: Path) -> None:
    log_file = tmp_path / "moshd.log"
    with open(log_file, "ab") as stderr:
        subprocess.run(
            [sys.executable, "-c", _STDERR_FOLLOWS, str(log_file)],
            stderr=stderr,
            check=True,
            timeout=30,
        )
    assert "stray traceback text" in log_file.read_text()


def test_the_detached_daemon_logs_to_its_file_itself(tmp_path: Path) -> None:
    argv = detached_daemon_argv(tmp_path / "control.sock", tmp_path / "moshd.log")
    assert argv[argv.index("--log-file") + 1] == str(tmp_path / "moshd.log")
    assert argv[argv.index("--control") + 1] == str(tmp_path / "control.sock")

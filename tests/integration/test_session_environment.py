"""Each session gets its own caller's environment and umask; the detached daemon keeps none of
its first caller's (real `mosh-server` processes and a private daemon)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moshd.control import request

from .test_mosh_server_command import BIN, CONNECT, _control, _stop_daemon

# Writes what the session's program sees: its environment, its umask, and a file it creates.
REPORT = 'env > "$OUT/$MARK.env"; umask > "$OUT/$MARK.umask"; : > "$OUT/$MARK.created"'
_DAEMON_START_VARIABLES = ("NOTIFY_SOCKET", "LISTEN_", "WATCHDOG_", "SSH_", "JOURNAL_STREAM")


@pytest.fixture
def user_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A private daemon on test ports, without whatever systemd or ssh gave the test run."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    out = tmp_path / "out"
    out.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_DAEMON_START_VARIABLES)
    }
    env.update(
        XDG_RUNTIME_DIR=str(runtime),
        XDG_STATE_HOME=str(tmp_path / "state"),
        MOSHD_PORT="62000:62999",
        MOSHD_BIND="127.0.0.1",
        MOSHD_PROTOCOL="native",
        OUT=str(out),
    )
    yield env
    _stop_daemon(env)


def _mosh_server_new(
    env: dict[str, str], umask: int, *command: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / "mosh-server"), "new", "--", *command],
        env=env,
        umask=umask,
        capture_output=True,
        timeout=30,
        check=False,
    )


def _report_of(env: dict[str, str], umask: int) -> None:
    result = _mosh_server_new(env, umask, "/bin/sh", "-c", REPORT)
    assert result.returncode == 0, result.stderr.decode()
    assert CONNECT.search(result.stdout), result.stdout


def _wait_for(path: Path) -> Path:
    deadline = time.monotonic() + 10
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    return path


def _variables(path: Path) -> dict[str, str]:
    # The "created" file is written last: once it exists, the others are complete.
    _wait_for(path.with_suffix(".created"))
    lines = path.read_text().splitlines()
    return dict(line.partition("=")[::2] for line in lines if "=" in line)


def _environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    entries = [os.fsdecode(entry) for entry in raw.split(b"\0") if entry]
    return dict(entry.partition("=")[::2] for entry in entries)


def test_each_session_gets_its_own_callers_environment_and_umask(
    user_env: dict[str, str], tmp_path: Path
) -> None:
    out = Path(user_env["OUT"])
    # The first caller starts the daemon, with what ssh and systemd gave its login.
    first = {
        **user_env,
        "MARK": "first",
        "FIRST_SECRET": "token-of-the-first-caller",
        "SSH_AUTH_SOCK": str(tmp_path / "agent.first"),
        "SSH_CONNECTION": "198.51.100.1 50001 192.0.2.1 22",
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
    }
    second = {
        **user_env,
        "MARK": "second",
        "SECOND_ONLY": "yes",
        "SSH_CONNECTION": "198.51.100.2 50002 192.0.2.1 22",
    }
    _report_of(first, 0o022)
    _report_of(second, 0o077)

    seen_first = _variables(out / "first.env")
    assert seen_first["FIRST_SECRET"] == "token-of-the-first-caller"
    assert seen_first["SSH_AUTH_SOCK"] == str(tmp_path / "agent.first")
    assert seen_first["SSH_CONNECTION"] == "198.51.100.1 50001 192.0.2.1 22"
    assert "SECOND_ONLY" not in seen_first
    seen_second = _variables(out / "second.env")
    assert seen_second["SECOND_ONLY"] == "yes"
    assert seen_second["SSH_CONNECTION"] == "198.51.100.2 50002 192.0.2.1 22"
    assert "FIRST_SECRET" not in seen_second and "SSH_AUTH_SOCK" not in seen_second
    assert "NOTIFY_SOCKET" not in seen_first and "NOTIFY_SOCKET" not in seen_second
    assert not any(name.startswith("MOSHD_") for name in {*seen_first, *seen_second})

    assert (out / "first.umask").read_text().strip() == "0022"
    assert (out / "second.umask").read_text().strip() == "0077"
    assert (out / "first.created").stat().st_mode & 0o777 == 0o644
    assert (out / "second.created").stat().st_mode & 0o777 == 0o600


def test_the_detached_daemon_keeps_nothing_of_its_first_caller(
    user_env: dict[str, str], tmp_path: Path
) -> None:
    first = {
        **user_env,
        "MARK": "first",
        "FIRST_SECRET": "token-of-the-first-caller",
        "SSH_AUTH_SOCK": str(tmp_path / "agent.first"),
        "SSH_CONNECTION": "198.51.100.1 50001 192.0.2.1 22",
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
        "WATCHDOG_USEC": "1000000",
    }
    _report_of(first, 0o022)
    pid = request(_control(user_env), {"op": "status"})["pid"]
    daemon_env = _environ_of(pid)
    for name in ("FIRST_SECRET", "SSH_AUTH_SOCK", "SSH_CONNECTION", "NOTIFY_SOCKET", "MARK"):
        assert name not in daemon_env
    assert not any(name.startswith("WATCHDOG_") for name in daemon_env)
    assert daemon_env["MOSHD_PORT"] == "62000:62999"  # its own settings stay
    assert daemon_env["XDG_RUNTIME_DIR"] == user_env["XDG_RUNTIME_DIR"]


def test_an_oversized_environment_gets_a_clear_error_from_mosh_server(
    user_env: dict[str, str],
) -> None:
    crowded = {**user_env, **{f"EXTRA_{index}": "x" for index in range(1000)}}
    result = _mosh_server_new(crowded, 0o022, "/bin/true")
    assert result.returncode == 1
    assert b"variables; moshd accepts at most 1000" in result.stderr
    # A single string may not exceed 128 KiB in execve: three large ones make 300 KiB.
    heavy = {**user_env, **{f"HEAVY_{index}": "x" * 100_000 for index in range(3)}}
    result = _mosh_server_new(heavy, 0o022, "/bin/true")
    assert result.returncode == 1
    assert b"bytes; moshd accepts at most 262144" in result.stderr
    assert b"MOSH CONNECT" not in result.stdout
    assert not _control(user_env).exists()  # refused before any daemon was started


def test_an_oversized_environment_gets_a_clear_error_from_the_daemon(
    user_env: dict[str, str],
) -> None:
    _report_of({**user_env, "MARK": "first"}, 0o022)  # starts the daemon
    reply = request(
        _control(user_env),
        {
            "op": "new",
            "command": ["/bin/true"],
            "caller_env": {f"EXTRA_{index}": "" for index in range(1001)},
        },
    )
    assert reply["ok"] is False and reply["code"] == "bad_request"
    assert reply["error"] == "the environment has 1001 variables; moshd accepts at most 1000"

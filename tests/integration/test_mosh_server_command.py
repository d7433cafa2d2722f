"""`mosh-server` and `moshd` as real processes: the upstream contract and the daemon's lifecycle."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from moshd.control import DaemonUnreachable, request
from ssp.transport import ShutdownRequested

from .sspclient import scripted_client

BIN = Path(sys.executable).parent
CONNECT = re.compile(rb"MOSH CONNECT (\d+) ([A-Za-z0-9+/]{43})")


@pytest.fixture
def user_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment with its own runtime dir (so its own daemon) on test ports."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ)
    env.update(
        XDG_RUNTIME_DIR=str(runtime),
        XDG_STATE_HOME=str(tmp_path / "state"),
        MOSHD_PORT="62000:62999",
        MOSHD_BIND="127.0.0.1",
        MOSHD_PROTOCOL="native",  # as our `mosh` wrapper runs it; see the protocol-2 tests
    )
    yield env
    _stop_daemon(env)


def _control(env: dict[str, str]) -> Path:
    return Path(env["XDG_RUNTIME_DIR"]) / "moshd" / "control.sock"


def _stop_daemon(env: dict[str, str]) -> None:
    try:
        pid = request(_control(env), {"op": "status"}, timeout=2)["pid"]
    except DaemonUnreachable:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _mosh_server(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / "mosh-server"), *args], env=env, capture_output=True, timeout=30, check=False
    )


def _new_session(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = _mosh_server(env, "new", *args)
    assert result.returncode == 0, result.stderr.decode()
    match = CONNECT.search(result.stdout)
    assert match, result.stdout
    return int(match.group(1)), match.group(2).decode()


def test_new_twice_gives_two_sessions_of_one_daemon_on_one_port(user_env: dict[str, str]) -> None:
    port_a, key_a = _new_session(user_env, "--", "/bin/sh")
    port_b, key_b = _new_session(user_env, "--", "/bin/sh")
    assert port_a == port_b and 62000 <= port_a <= 62999
    assert key_a != key_b
    status = request(_control(user_env), {"op": "status"})
    assert status["sessions"] == 2 and status["ports"] == [port_a]
    daemons = subprocess.run(
        ["pgrep", "-f", f"moshd --control {_control(user_env)}"], capture_output=True, text=True
    ).stdout.split()
    assert len(daemons) == 1

    async def attach_one() -> None:
        async with scripted_client("127.0.0.1", port_a, key_a) as client:
            client.type(b"echo attached\r")
            await client.wait_for_text("attached")

    trio.run(attach_one)
    listing = _mosh_server(user_env, "list")
    assert listing.returncode == 0
    lines = listing.stdout.decode().splitlines()
    assert lines[0].split()[:5] == ["SESSION", "PID", "PORT", "AGE", "PEER"]
    assert lines[0].split()[8] == "PROTO"
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 2
    assert [row[8] for row in rows] == ["native", "native"]
    assert sorted(row[4].startswith("127.0.0.1:") for row in rows) == [False, True]
    assert all(re.fullmatch(r"\d+s", row[3]) for row in rows)  # ages


def test_kill_ends_a_session_and_list_no_longer_shows_it(user_env: dict[str, str]) -> None:
    _new_session(user_env, "--", "/bin/sh")
    sessions = request(_control(user_env), {"op": "list"})["sessions"]
    assert len(sessions) == 1
    assert _mosh_server(user_env, "kill", sessions[0]["session_id"]).returncode == 0
    deadline = time.monotonic() + 5
    while request(_control(user_env), {"op": "list"})["sessions"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    unknown = _mosh_server(user_env, "kill", "nosuchid")
    assert unknown.returncode == 1 and b"no session" in unknown.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["new", "-p", "notaport"], b"port"),
        (["new", "-l", "LANG"], b"NAME=VALUE"),
        (["new", "-x"], b"option"),
        (["frobnicate"], b"unknown subcommand"),
    ],
)
def test_bad_options_give_a_clear_message_and_status_2(
    user_env: dict[str, str], args: list[str], message: bytes
) -> None:
    result = _mosh_server(user_env, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert not _control(user_env).exists()  # no daemon started for a bad command line


def test_missing_command_is_reported(user_env: dict[str, str]) -> None:
    result = _mosh_server(user_env, "new", "--", "/nonexistent/program")
    assert result.returncode == 1
    assert b"/nonexistent/program" in result.stderr
    assert b"MOSH CONNECT" not in result.stdout


def test_list_without_a_daemon_says_so(user_env: dict[str, str]) -> None:
    result = _mosh_server(user_env, "list")
    assert result.returncode == 1
    assert b"not running" in result.stderr


def test_sigterm_hangs_up_children_tells_clients_and_exits_zero(
    user_env: dict[str, str],
) -> None:
    daemon = subprocess.Popen(
        [str(BIN / "moshd"), "--control", str(_control(user_env))],
        env=user_env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not _control(user_env).exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        port, key = _new_session(user_env, "--", "/bin/sh")
        session = request(_control(user_env), {"op": "list"})["sessions"][0]

        async def attach_and_stop() -> list[object]:
            async with scripted_client("127.0.0.1", port, key) as client:
                client.type(b"echo ready\r")
                await client.wait_for_text("ready")
                daemon.send_signal(signal.SIGTERM)
                with trio.fail_after(5):
                    while not any(isinstance(e, ShutdownRequested) for e in client.events):
                        await trio.sleep(0.02)
                await trio.sleep(0.5)  # stay long enough to acknowledge the goodbye
                return list(client.events)

        trio.run(attach_and_stop)
        assert daemon.wait(timeout=10) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(session["pid"], 0)  # the shell was hung up
        logs = [json.loads(line) for line in daemon.stderr.read().splitlines() if line.strip()]
        closed = [e for e in logs if e["event"] == "session.closed"]
        assert closed and closed[0]["reason"] == "daemon_stopping"
        assert {"session.created", "session.attached", "daemon.stopped"} <= {
            e["event"] for e in logs
        }
        assert not any(key in json.dumps(e) for e in logs)  # never log keys
    finally:
        if daemon.poll() is None:
            daemon.kill()


@pytest.mark.parametrize("op", ["list", "attach"])
def test_another_uid_is_refused_by_the_credential_check(
    user_env: dict[str, str], tmp_path: Path, op: str
) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to act as a throwaway user")
    nobody = pwd.getpwnam("nobody")
    port, key = _new_session(user_env, "--", "/bin/sh")
    (session,) = request(_control(user_env), {"op": "list"})["sessions"]
    message = {"op": op, "session_id": session["session_id"]}
    # Open the fences of the file system so that only SO_PEERCRED stands in the way.
    os.chmod(user_env["XDG_RUNTIME_DIR"], 0o755)
    os.chmod(_control(user_env).parent, 0o755)
    os.chmod(_control(user_env), 0o777)
    opened = [tmp_path, tmp_path.parent, tmp_path.parent.parent]  # pytest's 0700 dirs
    modes = {path: path.stat().st_mode & 0o777 for path in opened}
    try:
        for path in opened:
            os.chmod(path, 0o755)
        reply = _run_as(nobody, user_env, message)
    finally:
        for path, mode in modes.items():
            os.chmod(path, mode)
    assert reply["ok"] is False and reply["code"] == "forbidden"
    assert "sessions" not in reply and "key" not in reply

    # Nothing was attached: the session's own key still works.
    async def still_mine() -> None:
        async with scripted_client("127.0.0.1", port, key) as client:
            client.type(b"echo mine-$((3*3))\r")
            await client.wait_for_text("mine-9")

    trio.run(still_mine)


def _run_as(
    user: pwd.struct_passwd, user_env: dict[str, str], message: dict[str, object]
) -> dict[str, object]:
    script = (
        "import json, sys; from moshd.control import request; "
        "print(json.dumps(request(sys.argv[1], json.loads(sys.argv[2]))))"
    )
    result = subprocess.run(
        [
            "setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
            sys.executable,
            "-c",
            script,
            str(_control(user_env)),
            json.dumps(message),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
        env={**user_env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert result.returncode == 0, result.stderr
    reply: dict[str, object] = json.loads(result.stdout)
    return reply


@pytest.mark.slow
def test_detached_sessions_are_listed_announced_and_attached(user_env: dict[str, str]) -> None:
    """`list` shows attached/detached and since when; `new` names the detached sessions and
    the command that takes one; `attach` without an id asks which; `attach ID` takes it."""
    port, key_a = _new_session(user_env, "--", "/bin/sh")
    _new_session(user_env, "--", "/bin/sh")
    ids = [s["session_id"] for s in request(_control(user_env), {"op": "list"})["sessions"]]
    listing = _mosh_server(user_env, "list").stdout.decode().splitlines()
    assert listing[0].split()[5:8] == ["STATE", "SINCE", "HEARD"]
    assert [row.split()[5] for row in listing[1:]] == ["attached", "attached"]  # the grace

    alone = _mosh_server(user_env, "attach")
    assert alone.returncode == 1 and b"no detached session to attach" in alone.stderr
    assert b"MOSH CONNECT" not in alone.stdout

    time.sleep(10.5)  # DETACHED_AFTER: nobody ever came to either
    listing = _mosh_server(user_env, "list").stdout.decode().splitlines()
    states = [row.split()[5:7] for row in listing[1:]]
    assert [state for state, _ in states] == ["detached", "detached"]
    # Since the sessions were made: the 10.5 s slept plus what the commands took (a busy
    # machine adds seconds, never removes them).
    assert all(since.endswith("s") and 10 <= int(since[:-1]) <= 40 for _, since in states)

    fresh = _mosh_server(user_env, "new", "--", "/bin/sh")
    assert fresh.returncode == 0 and CONNECT.search(fresh.stdout)
    warning = fresh.stderr.decode()
    assert "mosh-server: you have 2 detached sessions on this server" in warning
    for session_id in ids:
        assert f"mosh --attach={session_id} " in warning
    assert "mosh-server attach SESSION_ID" in warning

    several = _mosh_server(user_env, "attach", "--host=me@server")
    assert several.returncode == 1 and b"MOSH CONNECT" not in several.stdout
    lines = several.stderr.decode().splitlines()
    assert lines[0] == "mosh-server: 2 detached sessions; say which one to attach:"
    assert sorted(line.split("#")[0].split()[1] for line in lines[1:3]) == sorted(
        f"--attach={session_id}" for session_id in ids
    )
    assert all(line.split("#")[0].split()[2] == "me@server" for line in lines[1:3])

    taken = _mosh_server(user_env, "attach", ids[0])
    assert taken.returncode == 0, taken.stderr
    match = CONNECT.search(taken.stdout)
    assert match and int(match.group(1)) == port and match.group(2).decode() != key_a
    assert f"attached to session {ids[0]}".encode() in taken.stderr

    async def use_it() -> None:
        async with scripted_client("127.0.0.1", port, match.group(2).decode()) as client:
            client.type(b"echo taken-$((4*4))\r")
            await client.wait_for_text("taken-16")

    trio.run(use_it)
    listing = _mosh_server(user_env, "list").stdout.decode().splitlines()
    states = {row.split()[0]: row.split()[5] for row in listing[1:]}
    assert states[ids[0]] == "attached" and states[ids[1]] == "detached"

    for missing in ("nosuchid",):
        failed = _mosh_server(user_env, "attach", missing)
        assert failed.returncode == 1 and b"MOSH CONNECT" not in failed.stdout
        assert failed.stderr.decode() == (
            "mosh-server: no session 'nosuchid' (it has ended, or never existed)\n"
        )


def test_attach_without_a_daemon_says_so(user_env: dict[str, str]) -> None:
    result = _mosh_server(user_env, "attach", "abcd")
    assert result.returncode == 1
    assert b"not running" in result.stderr
    assert not _control(user_env).exists()  # attach never starts a daemon

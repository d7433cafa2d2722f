"""Per-session environment and umask: the `new` request's caller_env/umask, the session's
environment built from them, the umask applied to the PTY child, and the scrubbed environment
of a detached daemon."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import trio

from moshd import cli
from moshd.control.errors import ProtocolError
from moshd.control.framing import MAX_LINE_BYTES
from moshd.control.messages import NewRequest, encode_line, request_to_json
from moshd.control.validation import (
    MAX_ENV_BYTES,
    MAX_ENV_VARIABLES,
    check_environment_size,
    parse_request,
)
from moshd.pty import PtyChild, build_child_environment, spawn

TIMEOUT = 10.0
LOCALES = ["C", "C.utf8", "en_US.utf8"]


def _line(**fields: object) -> bytes:
    return json.dumps({"op": "new", **fields}).encode()


# --------------------------------------------------------------------------------------------
# The request


def test_caller_env_and_umask_travel_in_the_new_request() -> None:
    sent = NewRequest(
        command=["/bin/sh"], caller_env={"SSH_AUTH_SOCK": "/tmp/agent", "TZ": "UTC"}, umask=0o077
    )
    received = parse_request(encode_line(request_to_json(sent)))
    assert received == sent


def test_a_request_without_them_means_the_daemons_own() -> None:
    received = parse_request(_line(command=["/bin/sh"]))
    assert isinstance(received, NewRequest)
    assert received.caller_env is None and received.umask is None


def test_too_many_variables_are_refused_with_a_clear_message() -> None:
    env = {f"V{index}": "" for index in range(MAX_ENV_VARIABLES + 1)}
    with pytest.raises(ProtocolError, match="has 1001 variables; moshd accepts at most 1000"):
        parse_request(_line(caller_env=env))
    parse_request(_line(caller_env=dict(list(env.items())[:MAX_ENV_VARIABLES])))  # the limit


def test_too_many_bytes_are_refused_with_a_clear_message() -> None:
    # NAME=VALUE plus a NUL, as execve counts: "V=" + value + NUL is 3 bytes besides the value.
    check_environment_size({"V": "x" * (MAX_ENV_BYTES - 3)})
    with pytest.raises(ProtocolError, match=r"is 262145 bytes; moshd accepts at most 262144"):
        check_environment_size({"V": "x" * (MAX_ENV_BYTES - 2)})


@pytest.mark.parametrize(
    ("caller_env", "message"),
    [
        ({"A": 1}, '"caller_env" values must be strings'),
        ({"A=B": "c"}, '"caller_env" has an invalid variable name'),
        ({"": "c"}, '"caller_env" has an invalid variable name'),
        ({"A": "b\0c"}, '"caller_env" has an invalid variable name or value'),
        ({"A": "\ud800"}, '"caller_env" has an invalid variable name or value'),  # no bytes
        ([], '"caller_env" must be an object'),
    ],
)
def test_malformed_caller_env_is_refused(caller_env: object, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_request(_line(caller_env=caller_env))


@pytest.mark.parametrize("umask", [-1, 0o1000, True, "077"])
def test_umask_out_of_range_is_refused(umask: object) -> None:
    with pytest.raises(ProtocolError, match='"umask" must be'):
        parse_request(_line(umask=umask))


# --------------------------------------------------------------------------------------------
# The session's environment

CALLER = {
    "HOME": "/home/alice",
    "PATH": "/usr/bin",
    "LANG": "en_US.UTF-8",
    "SSH_CONNECTION": "198.51.100.4 51234 192.0.2.10 22",
    "SSH_CLIENT": "198.51.100.4 51234 22",
    "SSH_AUTH_SOCK": "/tmp/ssh-abc/agent.1",
    "SSH_TTY": "/dev/pts/3",
    "TZ": "Europe/Paris",
    "DISPLAY": "localhost:10.0",
    "NOTIFY_SOCKET": "/run/user/1000/systemd/notify",
    "LISTEN_FDS": "1",
    "WATCHDOG_USEC": "30000000",
    "MOSHD_PORT": "60001",
    "MOSH_SERVER_NETWORK_TMOUT": "600",
    "MOSH_KEY": "secret",
}


def test_a_callers_environment_keeps_its_ssh_login_and_drops_the_daemons_variables() -> None:
    env = build_child_environment(CALLER, {}, from_caller=True, available_locales=LOCALES)
    assert env == {
        "HOME": "/home/alice",
        "PATH": "/usr/bin",
        "LANG": "en_US.UTF-8",
        "SSH_CONNECTION": "198.51.100.4 51234 192.0.2.10 22",
        "SSH_CLIENT": "198.51.100.4 51234 22",
        "SSH_AUTH_SOCK": "/tmp/ssh-abc/agent.1",
        "TZ": "Europe/Paris",
        "DISPLAY": "localhost:10.0",
        "TERM": "xterm-256color",
        "NCURSES_NO_UTF8_ACS": "1",
    }


def test_the_daemons_own_environment_still_loses_the_ssh_login_that_started_it() -> None:
    env = build_child_environment(CALLER, {}, available_locales=LOCALES)
    assert "SSH_CONNECTION" not in env and "SSH_CLIENT" not in env


# --------------------------------------------------------------------------------------------
# The umask of the child


@pytest.fixture
def children() -> Iterator[list[PtyChild]]:
    spawned: list[PtyChild] = []
    yield spawned
    for child in spawned:
        child.kill()
        child.close()
        child.process.wait(timeout=TIMEOUT)


async def _umask_of_child(children: list[PtyChild], umask: int | None) -> bytes:
    env = build_child_environment(os.environ, {}, available_locales=LOCALES)
    child = spawn(["sh", "-c", "echo mask=$(umask)"], env, 80, 24, umask=umask)
    children.append(child)
    output = b""
    with trio.fail_after(TIMEOUT):
        while chunk := await child.read():
            output += chunk
    return output


@pytest.mark.trio
async def test_the_child_gets_the_requested_umask(children: list[PtyChild]) -> None:
    assert b"mask=0077" in await _umask_of_child(children, 0o077)
    assert b"mask=0027" in await _umask_of_child(children, 0o027)


@pytest.mark.trio
async def test_without_a_umask_the_child_gets_the_daemons(children: list[PtyChild]) -> None:
    ours = cli.caller_umask()
    assert f"mask={ours:04o}".encode() in await _umask_of_child(children, None)


# --------------------------------------------------------------------------------------------
# mosh-server's side


def test_caller_umask_reads_the_umask_and_leaves_it_as_it_was() -> None:
    previous = os.umask(0o027)
    try:
        assert cli.caller_umask() == 0o027
        assert cli.caller_umask() == 0o027
    finally:
        os.umask(previous)


def test_caller_environment_is_everything_json_can_carry() -> None:
    undecodable = os.fsdecode(b"\xff")  # how os.environ holds a value that is not UTF-8
    env = cli.caller_environment({"TZ": "UTC", "NAME": "Zoë", "BAD": undecodable})
    assert env == {"TZ": "UTC", "NAME": "Zoë"}


def test_a_detached_daemon_gets_only_what_it_reads() -> None:
    env = cli.detached_daemon_environment(
        {
            **CALLER,
            "USER": "alice",
            "LOGNAME": "alice",
            "SHELL": "/bin/bash",
            "XDG_RUNTIME_DIR": "/run/user/1000",
            "LC_TIME": "C",
            "MOSHD_BIND": "127.0.0.1",
            "GITHUB_TOKEN": "ghp_secret",
            "JOURNAL_STREAM": "8:123",
        }
    )
    assert env == {
        "HOME": "/home/alice",
        "PATH": "/usr/bin",
        "LANG": "en_US.UTF-8",
        "MOSHD_PORT": "60001",
        "USER": "alice",
        "LOGNAME": "alice",
        "SHELL": "/bin/bash",
        "XDG_RUNTIME_DIR": "/run/user/1000",
        "LC_TIME": "C",
        "MOSHD_BIND": "127.0.0.1",
    }


def test_every_allowed_environment_fits_a_request_line() -> None:
    assert MAX_LINE_BYTES >= 6 * MAX_ENV_BYTES + 64 * 1024  # JSON's worst case, and room


def test_a_request_too_large_for_a_line_is_refused_before_sending() -> None:
    request = NewRequest(command=["printf", "x" * MAX_LINE_BYTES])
    with pytest.raises(ProtocolError, match="too large to send to moshd"):
        cli.check_new_request_size(request)
    cli.check_new_request_size(NewRequest(caller_env={"V": "\x01" * (MAX_ENV_BYTES - 3)}))

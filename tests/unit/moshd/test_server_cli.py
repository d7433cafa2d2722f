"""moshd.server_cli: `mosh-server` argument parsing and output formatting."""

from __future__ import annotations

import io
import time
from collections.abc import Sequence

import pytest

from moshd.control import NewRequest, SessionInfo
from moshd.ports import PortRange
from moshd.server_cli import (
    AttachCommand,
    HelpCommand,
    KillCommand,
    ListCommand,
    NewCommand,
    ServerCommand,
    StatusCommand,
    UsageError,
    VersionCommand,
    format_connect_line,
    format_duration,
    format_session_list,
    format_several_detached,
    format_status,
    parse_server_args,
    print_connect,
)

SSH_ENV = {"SSH_CONNECTION": "198.51.100.4 51234 192.0.2.10 22"}


def parse(*argv: str, env: dict[str, str] | None = None) -> ServerCommand:
    return parse_server_args(argv, {} if env is None else env)


def parse_new(*argv: str, env: dict[str, str] | None = None) -> NewCommand:
    command = parse("new", *argv, env=env)
    assert isinstance(command, NewCommand)
    return command


# --------------------------------------------------------------------------------------------
# new


def test_no_arguments_at_all_means_new_like_upstream() -> None:
    assert parse() == NewCommand()


def test_bare_new() -> None:
    assert parse("new") == NewCommand()


def test_what_the_mosh_wrapper_sends() -> None:
    # mosh(1) runs: mosh-server new -c 256 -s -l LANG=en_US.UTF-8 -- (optionally a command)
    command = parse_new("-c", "256", "-s", "-l", "LANG=en_US.UTF-8", "-l", "LC_TIME=C", env=SSH_ENV)
    assert command == NewCommand(
        colors=256,
        bind_ip="192.0.2.10",
        locale_vars={"LANG": "en_US.UTF-8", "LC_TIME": "C"},
    )


def test_every_option_with_a_command() -> None:
    command = parse_new(
        "-i", "192.0.2.1", "-p", "60001:60010", "-c", "8", "-v", "--", "tmux", "attach", "-d"
    )
    assert command == NewCommand(
        command=["tmux", "attach", "-d"],
        colors=8,
        bind_ip="192.0.2.1",
        port=PortRange(60001, 60010),
        verbose=True,
    )


def test_attached_and_bundled_short_options() -> None:
    command = parse_new("-sv", "-p60001", "-c256", "-lLANG=C.UTF-8", env=SSH_ENV)
    assert command == NewCommand(
        colors=256,
        bind_ip="192.0.2.10",
        port=PortRange(60001, 60001),
        locale_vars={"LANG": "C.UTF-8"},
        verbose=True,
    )


def test_options_stop_at_the_first_command_word() -> None:
    assert parse_new("vim", "-p", "a", "b").command == ["vim", "-p", "a", "b"]
    assert parse_new("-v", "--", "-weird-program").command == ["-weird-program"]


def test_empty_command_after_double_dash_is_the_login_shell() -> None:
    assert parse_new("--").command is None


def test_last_of_s_and_i_wins_like_upstream() -> None:
    assert parse_new("-s", "-i", "192.0.2.99", env=SSH_ENV).bind_ip == "192.0.2.99"
    assert parse_new("-i", "192.0.2.99", "-s", env=SSH_ENV).bind_ip == "192.0.2.10"


def test_later_locale_variable_overrides_earlier() -> None:
    command = parse_new("-l", "LANG=C", "-l", "LANG=en_US.UTF-8", "-l", "EMPTY=")
    assert command.locale_vars == {"LANG": "en_US.UTF-8", "EMPTY": ""}


def test_value_may_contain_equals_signs() -> None:
    assert parse_new("-l", "LC_X=a=b").locale_vars == {"LC_X": "a=b"}


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ("198.51.100.4 51234 192.0.2.10 22", "192.0.2.10"),
        ("2001:db8::4 51234 2001:db8::10 22", "2001:db8::10"),
        ("::ffff:198.51.100.4 51234 ::ffff:192.0.2.10 22", "192.0.2.10"),  # IPv4-mapped
        ("fe80::4%eth0 51234 fe80::10%eth0 22", "fe80::10%eth0"),
    ],
)
def test_s_binds_to_the_local_end_of_the_ssh_connection(connection: str, expected: str) -> None:
    assert parse_new("-s", env={"SSH_CONNECTION": connection}).bind_ip == expected


def test_new_command_to_request() -> None:
    command = parse_new("-c", "256", "-p", "60001", "-l", "LANG=C.UTF-8", "-v", "--", "top")
    assert command.to_request() == NewRequest(
        command=["top"],
        env={"LANG": "C.UTF-8"},
        colors=256,
        port=PortRange(60001, 60001),
        verbose=True,
        protocol="proto2",  # a stock wrapper's call: protocol 2
    )
    # A request without a protocol (an older mosh-server) is native, the only one it knew.
    assert NewCommand(protocol="native").to_request() == NewRequest()


@pytest.mark.parametrize(
    ("env", "protocol"),
    [
        ({}, "proto2"),  # stock wrappers set nothing: stock clients get protocol 2
        ({"MOSHD_PROTOCOL": "native"}, "native"),  # our `mosh` wrapper asks for ours
        ({"MOSHD_PROTOCOL": "proto2"}, "proto2"),
        ({"MOSHD_PROTOCOL": "bogus"}, "proto2"),
    ],
)
def test_the_protocol_comes_from_moshd_protocol(env: dict[str, str], protocol: str) -> None:
    assert parse_new("--", "top", env=env).protocol == protocol
    bare = parse(env=env)  # `mosh-server` alone is `mosh-server new`
    assert isinstance(bare, NewCommand) and bare.protocol == protocol


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["-x"], {}, "new: option -x not recognized"),
        (["--frobnicate"], {}, "option --frobnicate not recognized"),
        (["-p"], {}, "option -p requires argument"),
        (["-p", "0:9"], {}, "-p: bad port '0:9': 0 is outside 1..65535"),
        (["-p", "70000"], {}, "70000 is outside 1..65535"),
        (["-p", "61000:60000"], {}, "61000 is greater than 60000"),
        (["-p", "http"], {}, "-p: bad port 'http'"),
        (["-p", "60000:"], {}, "-p: bad port '60000:'"),
        (["-l", "LANG"], {}, "-l: expected NAME=VALUE, not 'LANG'"),
        (["-l", "=C"], {}, "-l: expected NAME=VALUE, not '=C'"),
        (["-c", "many"], {}, "-c: the number of colours must be a whole number, not 'many'"),
        (["-c", "-1"], {}, "-c: the number of colours must be a whole number"),
        (["-c", "99999999999"], {}, "-c: 99999999999 colours is more than 16777216"),
        (["-i", "my.host"], {}, "-i: not an IP address: 'my.host'"),
        (["-s"], {}, "-s: SSH_CONNECTION is not set"),
        (["-s"], {"SSH_CONNECTION": "garbage"}, "-s: cannot parse SSH_CONNECTION='garbage'"),
        (["-s"], {"SSH_CONNECTION": "a b c d"}, "-s: SSH_CONNECTION has no local IP address"),
    ],
)
def test_bad_new_options_are_explained(
    argv: Sequence[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        parse("new", *argv, env=env)
    assert message in str(caught.value)


# --------------------------------------------------------------------------------------------
# list, kill, status, help, version


def test_other_subcommands() -> None:
    assert parse("list") == ListCommand()
    assert parse("status") == StatusCommand()
    assert parse("kill", "abc123") == KillCommand("abc123")


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["help"], ["new", "--help"], ["new", "-h"]])
def test_help(argv: list[str]) -> None:
    command = parse(*argv)
    assert isinstance(command, HelpCommand)
    assert "mosh-server new" in command.text
    assert "MOSH CONNECT" in command.text


@pytest.mark.parametrize("argv", [["--version"], ["-V"], ["new", "--version"]])
def test_version(argv: list[str]) -> None:
    command = parse(*argv)
    assert isinstance(command, VersionCommand)
    assert command.text.startswith("mosh-server (moshd ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "extra"], "list takes no arguments"),
        (["status", "-v"], "status takes no arguments"),
        (["kill"], "kill needs exactly one session id"),
        (["kill", "a", "b"], "kill needs exactly one session id"),
        (["kill", ""], "kill needs exactly one session id"),
        (["attach", "a", "b"], "attach takes at most one session id"),
        (["attach", "--bogus"], "attach: option --bogus not recognized"),
        (["frobnicate"], "unknown subcommand 'frobnicate'"),
        (["-s"], "options go after the subcommand: mosh-server new -s"),
    ],
)
def test_bad_subcommands_are_explained(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(*argv)
    assert message in str(caught.value)


def test_default_environment_is_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "198.51.100.4 1 192.0.2.55 22")
    command = parse_server_args(["new", "-s"])
    assert isinstance(command, NewCommand)
    assert command.bind_ip == "192.0.2.55"


# --------------------------------------------------------------------------------------------
# Output


def test_connect_line() -> None:
    key = "4NeCCgvZFe2RnPgrcU1PQw"
    assert format_connect_line(60001, key) == f"MOSH CONNECT 60001 {key}"


def test_print_connect_frames_the_line_like_upstream() -> None:
    out = io.StringIO()
    print_connect(60001, "KEY", out)
    assert out.getvalue() == "\r\nMOSH CONNECT 60001 KEY\r\n"


def _session(
    session_id: str,
    created_at: float,
    peer: str | None,
    state: str = "attached",
    since: float | None = None,
    heard: float | None = None,
) -> SessionInfo:
    return {
        "session_id": session_id,
        "command": ["-bash"],
        "created_at": created_at,
        "age_s": 0.0,
        "peer": peer,
        "port": 60001,
        "pid": 4242,
        "state": state,
        "state_since": created_at if since is None else since,
        "last_heard": heard,
    }


def test_session_list_table() -> None:
    now = 1_700_000_000.0
    table = format_session_list(
        [
            {**_session("a1", now - 5, "198.51.100.4:50000", heard=now - 1), "protocol": "proto2"},
            _session("b22", now - 4000, None, "detached", now - 4000),  # older daemon: native
        ],
        now,
    )
    assert table.splitlines() == [
        "SESSION  PID   PORT   AGE    PEER                STATE     SINCE  HEARD  PROTO   COMMAND",
        "a1       4242  60001  5s     198.51.100.4:50000  attached  5s     1s     proto2  -bash",
        "b22      4242  60001  1h06m  -                   detached  1h06m  -      native  -bash",
    ]


def test_session_list_from_an_older_daemon_shows_no_state() -> None:
    now = 1_700_000_000.0
    old: dict[str, object] = dict(_session("a1", now - 5, None))
    for name in ("state", "state_since", "last_heard"):
        del old[name]
    row = format_session_list([old], now).splitlines()[1]  # type: ignore[list-item]
    assert row.split()[5:8] == ["?", "-", "-"]


def test_attach_parses_an_optional_id_and_host() -> None:
    assert parse("attach") == AttachCommand()
    assert parse("attach", "--host=me@box", "ab12") == AttachCommand("ab12", "me@box")


def test_several_detached_are_listed_with_the_command_that_takes_each() -> None:
    now = time.time()
    text = format_several_detached(
        [
            _session("a1", now - 300, "198.51.100.4:50000", "detached", now - 60, now - 60),
            _session("b2", now - 30, None, "detached", now - 20),
        ],
        "me@box",
    )
    lines = text.splitlines()
    assert lines[0] == "mosh-server: 2 detached sessions; say which one to attach:"
    assert lines[1].split("#")[0].split() == ["mosh", "--attach=a1", "me@box"]
    assert "last heard 1m00s ago from 198.51.100.4:50000" in lines[1]
    assert "-bash" in lines[1] and "started 5m00s ago" in lines[1]
    assert lines[2].split("#")[0].split() == ["mosh", "--attach=b2", "me@box"]
    assert "no client ever heard" in lines[2]
    assert lines[3] == "  (or, on this server: mosh-server attach SESSION_ID)"


def test_empty_session_list() -> None:
    assert format_session_list([]) == "no sessions"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.9, "59s"), (60, "1m00s"), (303, "5m03s"), (3600, "1h00m"), (187000, "2d03h")],
)
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_status_output() -> None:
    reply = {"ok": True, "pid": 77, "sessions": 2, "ports": [60001, 60002], "version": "0.1.0"}
    assert format_status(reply) == (
        "moshd 0.1.0 running, pid 77\nsessions: 2\nudp ports: 60001, 60002"
    )
    assert format_status({"ok": True, "pid": 1, "sessions": 0, "ports": []}).endswith("none")

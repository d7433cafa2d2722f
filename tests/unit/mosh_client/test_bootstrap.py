"""The `mosh` wrapper's bootstrap: command lines, output parsing, error mapping, the proxy."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mosh_client.bootstrap import server_start
from mosh_client.bootstrap.addresses import order_addresses, resolve
from mosh_client.bootstrap.client_launch import client_argv, count_colors
from mosh_client.bootstrap.environment import (
    client_environment,
    local_server_environment,
    ssh_environment,
)
from mosh_client.bootstrap.errors import BootstrapError
from mosh_client.bootstrap.fake_proxy import FAKE_PROXY_PREFIX, run_fake_proxy
from mosh_client.bootstrap.programs import find_program
from mosh_client.bootstrap.server_command import (
    bind_arguments,
    locale_assignments,
    proxy_command,
    remote_command,
    server_arguments,
    server_command_line,
    ssh_argv,
)
from mosh_client.bootstrap.server_output import (
    BootstrapOutput,
    connect_ip,
    explain_failure,
    parse_connect_line,
    telling_line,
)
from mosh_client.bootstrap.server_start import Plan, make_plan, start_server
from mosh_client.client_args import ClientConfig, parse_client_args
from mosh_client.mosh_args import FakeProxyRequest, MoshOptions, parse_mosh_args
from ssp.crypto import Key

KEY = Key.generate()
V4, V6 = socket.AF_INET, socket.AF_INET6


def opts(*args: str) -> MoshOptions:
    parsed = parse_mosh_args(list(args), {})
    assert isinstance(parsed, MoshOptions)
    return parsed


# --- the server command -------------------------------------------------------------------------
def test_locale_variables_in_upstreams_order_and_only_when_set() -> None:
    environ = {"LC_ALL": "C.UTF-8", "LANG": "en_US.UTF-8", "LC_CTYPE": "", "TERM": "x"}
    assert locale_assignments(environ) == ["LANG=en_US.UTF-8", "LC_CTYPE=", "LC_ALL=C.UTF-8"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["h"], ["-s"]),
        (["--bind-server=ssh", "h"], ["-s"]),
        (["--bind-server=any", "h"], []),
        (["--bind-server=192.0.2.9", "h"], ["-i", "192.0.2.9"]),
        (["--local", "127.0.0.1"], ["-i", "127.0.0.1"]),
        (["--local", "::1"], ["-i", "::1"]),
        (["--local", "--bind-server=any", "::1"], []),
    ],
)
def test_bind_arguments(args: list[str], expected: list[str]) -> None:
    assert bind_arguments(opts(*args)) == expected


def test_server_arguments_in_upstreams_order() -> None:
    options = opts("-p", "60001:60009", "h", "--", "tmux", "new", "-A")
    environ = {"LANG": "C.UTF-8", "LC_ALL": "C"}
    assert server_arguments(options, 256, environ) == [
        "new", "-c", "256", "-s", "-p", "60001:60009",
        "-l", "LANG=C.UTF-8", "-l", "LC_ALL=C",
        "--", "tmux", "new", "-A",
    ]  # fmt: skip


def test_server_arguments_without_command_or_port() -> None:
    assert server_arguments(opts("h"), 8, {}) == ["new", "-c", "8", "-s"]


def test_server_command_line_quotes_arguments_but_not_the_server_command() -> None:
    line = server_command_line("env A=1 mosh-server", ["new", "--", "echo", "it's a $HOME"])
    assert line.startswith("env A=1 mosh-server new -- echo ")
    assert shlex.split(line) == ["env", "A=1", "mosh-server", "new", "--", "echo", "it's a $HOME"]


def test_remote_mode_prints_ssh_connection_first() -> None:
    line = remote_command(opts("--experimental-remote-ip=remote", "h"), "mosh-server", ["new"])
    assert line.endswith(" ; mosh-server new")
    env = {"SSH_CONNECTION": "192.0.2.1 5555 192.0.2.2 22", "PATH": os.environ["PATH"]}
    prefix = line.removesuffix("mosh-server new") + "true"
    printed = subprocess.run(
        ["sh", "-c", prefix], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert printed == "\nMOSH SSH_CONNECTION 192.0.2.1 5555 192.0.2.2 22\n"
    assert remote_command(opts("h"), "mosh-server", ["new"]) == "mosh-server new"


def test_proxy_command() -> None:
    assert proxy_command("/usr/bin/mosh", "prefer-inet") == (
        "/usr/bin/mosh --family=prefer-inet --fake-proxy -- %h %p"
    )
    # ssh expands %-tokens and runs it with a shell: both must leave our path alone.
    assert proxy_command("/opt/50% off/mosh", "all").startswith("'/opt/50%% off/mosh' ")


def test_ssh_argv_default_uses_the_fake_proxy() -> None:
    options = opts("--ssh=ssh -p 2222", "alice@example.org")
    argv = ssh_argv(options, options.userhost, "mosh-server", ["new", "-s"], "/bin/mosh")
    assert argv == [
        "ssh", "-p", "2222", "-n", "-tt",
        "-S", "none", "-o", "ProxyCommand=/bin/mosh --family=prefer-inet --fake-proxy -- %h %p",
        "alice@example.org", "--", "mosh-server new -s",
    ]  # fmt: skip


def test_ssh_argv_without_pty_and_with_family() -> None:
    options = opts("--no-ssh-pty", "-6", "h")
    argv = ssh_argv(options, "h", "mosh-server", ["new"], "/bin/mosh")
    assert "-tt" not in argv and "-6" not in argv  # the proxy picks the family, not ssh
    assert "ProxyCommand=/bin/mosh --family=inet6 --fake-proxy -- %h %p" in argv


@pytest.mark.parametrize(("flag", "expected"), [("-4", "-4"), ("-6", "-6"), ("-a", None)])
def test_ssh_argv_in_remote_mode_passes_the_family_to_ssh(flag: str, expected: str | None) -> None:
    options = opts("--experimental-remote-ip=remote", flag, "h")
    argv = ssh_argv(options, "h", "mosh-server", ["new"], "/bin/mosh")
    assert argv[:3] == ["ssh", "-n", "-tt"]
    assert not any(word.startswith("ProxyCommand") for word in argv)
    assert (argv[3] if expected else argv[3:5]) == (expected or ["h", "--"])
    assert argv[-1].startswith("sh -c ")


def test_ssh_environment() -> None:
    environ = {"SHELL": "/usr/bin/fish", "MOSH_PREDICTION_DISPLAY": "never", "LANG": "C"}
    env = ssh_environment(opts("h"), environ)
    assert env["SHELL"] == "/bin/sh"  # runs the ProxyCommand
    assert "MOSH_PREDICTION_DISPLAY" not in env
    assert env["MOSH_CLIENT_PID"] == str(os.getpid())
    assert env["LANG"] == "C"
    assert ssh_environment(opts("--experimental-remote-ip=local", "h"), environ)["SHELL"] == (
        "/usr/bin/fish"
    )


def test_local_server_environment_forgets_the_ssh_connection() -> None:
    env = local_server_environment({"SSH_CONNECTION": "a b c d", "HOME": "/root"})
    assert "SSH_CONNECTION" not in env and env["HOME"] == "/root"


def test_plan_for_local() -> None:
    plan = make_plan(opts("--local", "--server=srv", "::1"), 256, {"HOME": "/"}, "/bin/mosh")
    assert plan.argv == ["/bin/sh", "-c", "srv new -c 256 -i ::1"]
    assert plan.env["MOSHD_PROTOCOL"] == "native"  # moshd: speak your own protocol
    assert plan.cwd == "/" and plan.known_ip == "::1"


def test_plan_for_locally_resolved_address_keeps_the_user() -> None:
    plan = make_plan(opts("--experimental-remote-ip=local", "bob@127.0.0.1"), 8, {}, "/bin/mosh")
    assert plan.known_ip == "127.0.0.1"
    assert plan.argv[-3:-1] == ["bob@127.0.0.1", "--"]
    assert plan.argv[-1].startswith("env MOSHD_PROTOCOL=native mosh-server new ")


def test_plan_default_server_for_local_is_the_one_beside_us(tmp_path: Path) -> None:
    server = tmp_path / "mosh-server"
    server.write_text("#!/bin/sh\n")
    server.chmod(0o755)
    found = find_program("mosh-server", [tmp_path / "nowhere", tmp_path], path="/usr/bin")
    assert found == str(server)


def test_find_program_falls_back_to_path_then_the_bare_name(tmp_path: Path) -> None:
    tool = tmp_path / "bin" / "mosh-client"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert find_program("mosh-client", [tmp_path], path=str(tool.parent)) == str(tool)
    assert find_program("mosh-client", [tmp_path], path=str(tmp_path)) == "mosh-client"


# --- reading the output -------------------------------------------------------------------------
def test_connect_line_from_a_pty() -> None:
    output = BootstrapOutput()
    assert not output.feed("\r\n")
    assert not output.feed("Welcome!\r\n")
    assert output.feed(f"MOSH CONNECT 60001 {KEY.text}\r\n")
    assert (output.port, output.key) == (60001, KEY)
    assert output.lines == ["", "Welcome!"]


@pytest.mark.parametrize(
    "line",
    [
        "MOSH CONNECT 60001",
        "MOSH CONNECT port " + KEY.text,
        "MOSH CONNECT 0 " + KEY.text,
        "MOSH CONNECT 70000 " + KEY.text,
        f"MOSH CONNECT 60001 {KEY.text} extra",
    ],
)
def test_bad_connect_lines(line: str) -> None:
    with pytest.raises(BootstrapError, match="Bad MOSH CONNECT"):
        parse_connect_line(line)


def test_upstream_servers_key_is_taken_as_protocol_2() -> None:
    port, key = parse_connect_line("MOSH CONNECT 60001 4NeCCgvZFe2RnPgrcU1PQw")
    assert port == 60001 and key.PROTOCOL == "proto2" and key.text == "4NeCCgvZFe2RnPgrcU1PQw"


def test_a_key_of_neither_protocol_is_explained() -> None:
    with pytest.raises(BootstrapError, match=r"43 \(native\) or 22 \(mosh protocol 2\)"):
        parse_connect_line("MOSH CONNECT 60001 4NeCCgvZFe2RnPgrcU1P")


def test_mosh_ip_once_only() -> None:
    output = BootstrapOutput()
    output.feed("MOSH IP 2001:db8::5\n")
    assert output.ip == "2001:db8::5"
    with pytest.raises(BootstrapError, match="redefine"):
        output.feed("MOSH IP 192.0.2.66\r\n")
    with pytest.raises(BootstrapError, match="redefine"):
        BootstrapOutput(ip="192.0.2.1").feed("MOSH IP 192.0.2.66")
    with pytest.raises(BootstrapError, match="Bad MOSH IP"):
        BootstrapOutput().feed("MOSH IP a b")


def test_ssh_connection_line() -> None:
    output = BootstrapOutput()
    output.feed("MOSH SSH_CONNECTION ::ffff:192.0.2.1 50000 ::ffff:192.0.2.2 22\r\n")
    assert output.ssh_connection_ip == "192.0.2.2"
    with pytest.raises(BootstrapError, match="Bad MOSH SSH_CONNECTION"):
        output.feed("MOSH SSH_CONNECTION 1 2 3")


def test_connect_ip(capsys: pytest.CaptureFixture[str]) -> None:
    options = opts("u@h")
    assert connect_ip(BootstrapOutput(ip="192.0.2.1", ssh_connection_ip="x"), options) == (
        "192.0.2.1"
    )
    assert connect_ip(BootstrapOutput(ssh_connection_ip="192.0.2.7"), options) == "192.0.2.7"
    assert "192.0.2.7 from $SSH_CONNECTION for hostname u@h" in capsys.readouterr().err
    with pytest.raises(BootstrapError, match="ProxyCommand"):
        connect_ip(BootstrapOutput(), options)


def test_telling_line_skips_ssh_chatter() -> None:
    lines = ["ssh: real reason", "", "Connection to host closed.", "\x1b[0m  "]
    assert telling_line(lines) == "ssh: real reason"
    assert telling_line(["", "Shared connection to h closed."]) is None
    complaint = ["mosh-server: new: -p: bad port '0'", "Try 'mosh-server --help'.", ""]
    assert telling_line(complaint) == complaint[0]


# --- failures -------------------------------------------------------------------------------------
def failure(lines: list[str], returncode: int, *args: str) -> str:
    options = opts(*(args or ("u@example.org",)))
    output = BootstrapOutput(lines=lines)
    message = str(explain_failure(output, returncode, options, options.server or "mosh-server"))
    assert message and "\n" not in message
    return message


def test_ssh_failure_quotes_ssh() -> None:
    message = failure(["ssh: connect to host example.org port 22: Connection refused", ""], 255)
    assert message == (
        "ssh to u@example.org failed: ssh: connect to host example.org port 22: Connection refused"
    )
    assert "without a word" in failure([], 255)


def test_the_proxys_reason_beats_sshs() -> None:
    lines = [FAKE_PROXY_PREFIX + "example.org has no IPv6 address", "Connection closed by UNKNOWN"]
    assert failure(lines, 255) == "example.org has no IPv6 address"


def test_server_not_found() -> None:
    message = failure(["bash: line 1: mosh-server: command not found"], 127)
    assert "mosh-server not found on example.org" in message
    assert "command not found" in message and "--server=PATH" in message
    local = failure(["sh: 1: /x: not found"], 127, "--local", "--server=/x", "127.0.0.1")
    assert "/x not found on this machine" in local


def test_server_not_executable() -> None:
    assert "--server=PATH" in failure(["bash: /tmp/x: Permission denied"], 126)


def test_server_failed() -> None:
    message = failure(["mosh-server: cannot reach or start moshd: boom"], 1)
    assert message == (
        "mosh-server failed on example.org (exit 1): mosh-server: cannot reach or start moshd: boom"
    )


def test_no_startup_message() -> None:
    assert "Have you installed mosh on your server?" in failure(["hello"], 0)


def test_killed_by_a_signal() -> None:
    assert "SIGKILL" in failure([], -signal.SIGKILL)


def test_port_ranges_unsupported_by_an_old_server() -> None:
    message = failure(["Bad UDP port (60000:60010)"], 1, "-p", "60000:60010", "h")
    assert message == "Server does not support UDP port range option."


# --- addresses ------------------------------------------------------------------------------------
A4 = (V4, ("192.0.2.1", 22))
B4 = (V4, ("192.0.2.2", 22))
A6 = (V6, ("2001:db8::1", 22, 0, 0))


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("all", [A6, A4, B4]),
        ("prefer-inet", [A4, B4, A6]),
        ("prefer-inet6", [A6, A4, B4]),
        ("inet", [A4, B4]),
        ("inet6", [A6]),
    ],
)
def test_order_addresses(family: Any, expected: list[Any]) -> None:
    assert order_addresses("h", [A6, A4, A6, B4], family) == expected


def test_order_addresses_errors() -> None:
    with pytest.raises(BootstrapError, match="both IPv4 and IPv6"):
        order_addresses("h", [A4, A6], "auto")
    assert order_addresses("h", [A4, B4], "auto") == [A4, B4]
    with pytest.raises(BootstrapError, match="no IPv6 address"):
        order_addresses("h", [A4], "inet6")


def test_resolve_asks_for_the_family_and_explains_failures() -> None:
    asked: list[Any] = []

    def fake_getaddrinfo(host: str, port: str, family: int, *rest: int) -> list[Any]:
        asked.append((host, port, family))
        if family == V6:
            raise socket.gaierror(socket.EAI_ADDRFAMILY, "Address family not supported")
        return [(V4, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 22))]

    assert resolve("h", "22", "prefer-inet", fake_getaddrinfo) == [A4]
    assert asked == [("h", "22", socket.AF_UNSPEC)]
    with pytest.raises(BootstrapError, match=r"IPv6 address for h.*--family"):
        resolve("h", "22", "inet6", fake_getaddrinfo)


def test_resolve_numeric_addresses_for_real() -> None:
    assert resolve("127.0.0.1", "22", "all")[0] == (V4, ("127.0.0.1", 22))
    assert resolve("::1", "22", "inet6")[0][1][0] == "::1"


# --- the client -------------------------------------------------------------------------------
def test_client_environment() -> None:
    environ = {"MOSH_ESCAPE_KEY": "~", "MOSH_TITLE_NOPREFIX": "", "MOSH_PREDICTION_DISPLAY": "x"}
    env = client_environment(opts("-n", "h"), KEY, environ)
    assert env["MOSH_KEY"] == KEY.text
    assert env["MOSH_PREDICTION_DISPLAY"] == "never"
    assert env["MOSH_ESCAPE_KEY"] == "~" and env["MOSH_TITLE_NOPREFIX"] == ""
    assert "MOSH_NO_TERM_INIT" not in env and "MOSH_PREDICTION_OVERWRITE" not in env
    env = client_environment(opts("--no-init", "-o", "--predict=always", "h"), KEY, {})
    assert env["MOSH_NO_TERM_INIT"] == "1"
    assert env["MOSH_PREDICTION_OVERWRITE"] == "yes"
    assert env["MOSH_PREDICTION_DISPLAY"] == "always"
    assert client_environment(opts("h"), KEY, {})["MOSH_PREDICTION_DISPLAY"] == "adaptive"


def test_the_in_process_client_gets_the_wrappers_options() -> None:
    # `mosh` runs its own client in its process: the options must reach its configuration.
    config = parse_client_args(
        ["127.0.0.1", "60001"], client_environment(opts("-n", "--no-init", "h"), KEY, {})
    )
    assert isinstance(config, ClientConfig)
    assert config.prediction == "never" and not config.alternate_screen
    assert config.key == KEY
    config = parse_client_args(["::1", "60001"], client_environment(opts("h"), KEY, {}))
    assert isinstance(config, ClientConfig)
    assert config.prediction == "adaptive" and config.alternate_screen


def test_client_argv_shows_the_command_line_to_ps() -> None:
    options = opts("-a", "u@h", "--", "top")
    assert client_argv("mosh-client", options, "192.0.2.1", 60001) == [
        "mosh-client", "-#", "-a u@h -- top |", "192.0.2.1", "60001",
    ]  # fmt: skip


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_count_colors(tmp_path: Path) -> None:
    assert count_colors(script(tmp_path, "c256", "echo 256\n"), {}) == 256
    assert count_colors(script(tmp_path, "junk", "echo lots\n"), {}) == 0
    with pytest.raises(BootstrapError, match="--client=PATH"):
        count_colors(str(tmp_path / "missing"), {})
    with pytest.raises(BootstrapError, match="exit 3"):
        count_colors(script(tmp_path, "fails", "exit 3\n"), {})


# --- running the server command -------------------------------------------------------------------
def plan_running(tmp_path: Path, body: str) -> Plan:
    return Plan(
        argv=[script(tmp_path, "fake-ssh", body)], env={}, cwd=None, known_ip=None, what="ssh"
    )


def test_start_server_reads_up_to_connect(tmp_path: Path) -> None:
    body = f"printf 'MOSH IP 127.0.0.1\\nhi\\r\\n\\r\\nMOSH CONNECT 60005 {KEY.text}\\r\\n'\n"
    output = start_server(plan_running(tmp_path, body), opts("h"))
    assert (output.ip, output.port, output.key) == ("127.0.0.1", 60005, KEY)
    assert output.lines == ["hi", ""]


def test_start_server_does_not_wait_forever_for_ssh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_start, "REAP_TIMEOUT", 0.2)
    body = f"echo MOSH CONNECT 60005 {KEY.text}; exec sleep 30 >/dev/null\n"
    assert start_server(plan_running(tmp_path, body), opts("h")).port == 60005


def test_start_server_failure(tmp_path: Path) -> None:
    body = "echo 'ssh: Could not resolve hostname h: Name or service not known' >&2; exit 255\n"
    with pytest.raises(BootstrapError) as info:
        start_server(plan_running(tmp_path, body), opts("h"))
    assert str(info.value) == (
        "ssh to h failed: ssh: Could not resolve hostname h: Name or service not known"
    )


def test_start_server_without_ssh(tmp_path: Path) -> None:
    plan = Plan(argv=[str(tmp_path / "no-ssh")], env={}, cwd=None, known_ip=None, what="no-ssh")
    with pytest.raises(BootstrapError, match="--ssh=COMMAND"):
        start_server(plan, opts("h"))


# --- the fake proxy -------------------------------------------------------------------------------
@pytest.fixture
def restore_sighup() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGHUP)
    yield
    signal.signal(signal.SIGHUP, previous)


@pytest.fixture
def echo_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that answers each connection with b'hello ' + what it got."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            received = b""
            while chunk := conn.recv(4096):
                received += chunk
            conn.sendall(b"hello " + received)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    listener.close()


@pytest.mark.usefixtures("restore_sighup")
def test_fake_proxy_relays_and_reports_the_address(
    echo_server: int, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    os.write(stdin_w, b"ssh bytes")
    os.close(stdin_w)  # ssh is done talking: the proxy half-closes, the server answers
    request = FakeProxyRequest(host="127.0.0.1", port=str(echo_server), family="all")
    assert run_fake_proxy(request, stdin_r, stdout_w) == 0
    os.close(stdout_w)
    with os.fdopen(stdout_r, "rb") as relayed:
        assert relayed.read() == b"hello ssh bytes"
    os.close(stdin_r)
    assert capsys.readouterr().err == "MOSH IP 127.0.0.1\n"


@pytest.mark.usefixtures("restore_sighup")
def test_fake_proxy_failure_is_marked_for_the_wrapper(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    assert run_fake_proxy(FakeProxyRequest("127.0.0.1", str(port), "all")) == 255
    err = capsys.readouterr().err
    assert err == (
        f"{FAKE_PROXY_PREFIX}Could not connect to 127.0.0.1 port {port}, last tried 127.0.0.1: "
        "Connection refused\n"
    )
    assert run_fake_proxy(FakeProxyRequest("127.0.0.1", str(port), "inet6")) == 255
    assert "IPv6" in capsys.readouterr().err


# --- --attach (issue #14) ------------------------------------------------------------------------
def test_server_arguments_for_attach() -> None:
    assert server_arguments(opts("--attach", "u@h"), 8, {"LANG": "C"}) == [
        "attach",
        "--host=u@h",
    ]
    assert server_arguments(opts("--attach=ab12", "u@h"), 8, {}) == [
        "attach",
        "--host=u@h",
        "ab12",
    ]


def test_attach_refused_with_one_reason_says_it() -> None:
    message = failure(
        ["mosh-server: no session 'x' (it has ended, or never existed)", ""],
        1,
        "--attach=x",
        "u@example.org",
    )
    assert message == (
        "nothing to attach on example.org: no session 'x' (it has ended, or never existed)"
    )


def test_attach_refused_with_a_list_shows_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    listing = [
        "mosh-server: 2 detached sessions; say which one to attach:",
        "  mosh --attach=a1 u@example.org    # -bash; started 5m00s ago; no client ever heard",
        "  mosh --attach=b2 u@example.org    # -bash; started 1m00s ago; no client ever heard",
        "  (or, on this server: mosh-server attach SESSION_ID)",
        "Connection to example.org closed.",
    ]
    message = failure(listing, 1, "--attach", "u@example.org")
    assert message == "nothing attached on example.org: choose a session (above)"
    assert capsys.readouterr().err.splitlines() == listing[:4]


def test_attach_against_upstreams_server_says_it_cannot() -> None:
    # What mosh-server 1.4 prints for `attach --host=...` (it has no such subcommand).
    upstream = [
        "Invalid (low) port number (--host=u@example.org)",
        "/usr/bin/mosh-server: Bad UDP port range (--host=u@example.org)",
        "Usage: /usr/bin/mosh-server new [-s] [-v] [-i LOCALADDR] [-p PORT[:PORT2]] "
        "[-c COLORS] [-l NAME=VALUE] [-- COMMAND...]",
    ]
    message = failure(upstream, 1, "--attach", "u@example.org")
    assert message == (
        "the mosh-server on example.org cannot attach sessions (it is upstream's; "
        "reattach needs moshd there)"
    )

"""moshd.control: request parsing, socket placement and binding, the sync client, the server."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from moshd import control
from moshd.control import (
    AlreadyRunning,
    ControlError,
    DaemonUnreachable,
    KillRequest,
    ListRequest,
    NewRequest,
    PeerCreds,
    PortRange,
    ProtocolError,
    Request,
    StatusRequest,
    UnsafeControlDirectory,
    parse_port_spec,
    parse_request,
)

# --------------------------------------------------------------------------------------------
# Parsing requests


def line(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def test_new_request_with_every_field() -> None:
    request = parse_request(
        line(
            {
                "op": "new",
                "command": ["vim", "notes.txt"],
                "env": {"LANG": "en_US.UTF-8", "LC_TIME": "C"},
                "width": 132,
                "height": 50,
                "colors": 256,
                "bind_ip": "192.0.2.7",
                "port": "60001:60010",
                "verbose": True,
            }
        )
    )
    assert request == NewRequest(
        command=["vim", "notes.txt"],
        env={"LANG": "en_US.UTF-8", "LC_TIME": "C"},
        width=132,
        height=50,
        colors=256,
        bind_ip="192.0.2.7",
        port=PortRange(60001, 60010),
        verbose=True,
    )


def test_new_request_defaults() -> None:
    assert parse_request(b'{"op": "new"}') == NewRequest()
    explicit_nulls = {
        "op": "new",
        "command": None,
        "env": None,
        "width": None,
        "height": None,
        "colors": None,
        "bind_ip": None,
        "port": None,
        "verbose": None,
    }
    request = parse_request(line(explicit_nulls))
    assert request == NewRequest()
    assert isinstance(request, NewRequest)
    assert (request.width, request.height, request.command) == (80, 24, None)


def test_other_ops() -> None:
    assert parse_request(b'{"op": "list"}') == ListRequest()
    assert parse_request(b'{"op": "status"}\n') == StatusRequest()
    assert parse_request(b'{"op": "kill", "session_id": "abc"}') == KillRequest("abc")


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    assert parse_request(b'{"op": "list", "since": 5}') == ListRequest()


def test_ipv6_bind_address() -> None:
    request = parse_request(b'{"op": "new", "bind_ip": "2001:db8::1"}')
    assert isinstance(request, NewRequest)
    assert request.bind_ip == "2001:db8::1"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, not a list"),
        (b'"new"', "must be a JSON object, not a string"),
        (b"{}", 'no "op" field'),
        (b'{"op": "explode"}', "unknown op 'explode'"),
        (b'{"op": 3}', "unknown op 3"),
        (b'{"op": "kill"}', 'no "session_id" field'),
        (b'{"op": "kill", "session_id": 7}', '"session_id" must be a string, not a number'),
        (b'{"op": "new", "command": "bash"}', '"command" must be a list, not a string'),
        (b'{"op": "new", "command": []}', '"command" must not be empty'),
        (b'{"op": "new", "command": ["ls", 1]}', '"command" must be a list of strings'),
        (b'{"op": "new", "command": ["a\\u0000b"]}', "NUL"),
        (b'{"op": "new", "env": ["LANG=C"]}', '"env" must be an object, not a list'),
        (b'{"op": "new", "env": {"LANG": 1}}', "\"env\" values must be strings, 'LANG'"),
        (b'{"op": "new", "env": {"A=B": "x"}}', "invalid variable name"),
        (b'{"op": "new", "env": {"": "x"}}', "invalid variable name"),
        (b'{"op": "new", "width": "80"}', '"width" must be an integer, not a string'),
        (b'{"op": "new", "width": true}', '"width" must be an integer, not a boolean'),
        (b'{"op": "new", "width": 80.5}', '"width" must be an integer, not a number'),
        (b'{"op": "new", "height": 0}', '"height" must be between 1 and 4096, not 0'),
        (b'{"op": "new", "width": 100000}', '"width" must be between 1 and 4096'),
        (b'{"op": "new", "colors": -1}', '"colors" must be between 0 and'),
        (b'{"op": "new", "bind_ip": "example.com"}', '"bind_ip" is not an IP address'),
        (b'{"op": "new", "bind_ip": 1}', '"bind_ip" must be a string'),
        (b'{"op": "new", "port": 60001}', '"port" must be a string, not a number'),
        (b'{"op": "new", "port": "0:9"}', "outside 1..65535"),
        (b'{"op": "new", "verbose": "yes"}', '"verbose" must be a boolean, not a string'),
        (b'{"op": "new", "verbose": 1}', '"verbose" must be a boolean, not a number'),
    ],
)
def test_bad_requests_are_explained(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_request(raw)
    assert message in str(caught.value)
    assert caught.value.code == "bad_request"


def test_line_length_limit() -> None:
    padding = "x" * (control.MAX_LINE_BYTES - 40)
    assert parse_request(line({"op": "list", "pad": padding})) == ListRequest()
    with pytest.raises(ProtocolError, match=f"longer than {control.MAX_LINE_BYTES} bytes"):
        parse_request(line({"op": "list", "pad": padding + "x" * 100}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60001", PortRange(60001, 60001)),
        ("1", PortRange(1, 1)),
        ("65535", PortRange(65535, 65535)),
        ("60000:61000", PortRange(60000, 61000)),
        ("7000:7000", PortRange(7000, 7000)),
    ],
)
def test_port_specs(text: str, expected: PortRange) -> None:
    assert parse_port_spec(text) == expected
    assert str(expected) == (text if ":" not in text or expected.low != expected.high else "7000")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0:9", "0 is outside 1..65535"),
        ("65536", "65536 is outside 1..65535"),
        ("61000:60000", "61000 is greater than 60000"),
        ("abc", "'abc' is not a number"),
        ("", "'' is not a number"),
        ("60001:", "'' is not a number"),
        (":60001", "'' is not a number"),
        ("-5", "'-5' is not a number"),
        ("1:2:3", "'2:3' is not a number"),
        ("\uff16\uff10\uff10\uff11", "is not a number"),  # full-width digits: isdigit()
    ],
)
def test_bad_port_specs(text: str, message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_port_spec(text)
    assert message in str(caught.value)


_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), max_size=20
)
_env_names = _text.filter(lambda name: name != "" and "=" not in name)
_ports = st.integers(1, 65535)
_new_requests = st.builds(
    NewRequest,
    command=st.none() | st.lists(_text, min_size=1, max_size=4),
    env=st.dictionaries(_env_names, _text, max_size=4),
    width=st.integers(1, control.MAX_DIMENSION),
    height=st.integers(1, control.MAX_DIMENSION),
    colors=st.none() | st.integers(0, control.MAX_COLORS),
    bind_ip=st.none() | st.ip_addresses().map(str),
    port=st.none() | st.tuples(_ports, _ports).map(lambda pair: PortRange(min(pair), max(pair))),
    verbose=st.booleans(),
)
_requests: st.SearchStrategy[Request] = (
    _new_requests
    | st.just(ListRequest())
    | st.just(StatusRequest())
    | _text.map(lambda session_id: KillRequest(session_id))
)


@given(_requests)
def test_requests_survive_the_wire(request: Request) -> None:
    assert parse_request(control.encode_line(control.request_to_json(request))) == request


@given(st.binary(max_size=200))
def test_parse_request_raises_only_protocol_errors(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_request(raw)


# --------------------------------------------------------------------------------------------
# Where the socket lives, and who may use it


def test_socket_in_xdg_runtime_dir(tmp_path: Path) -> None:
    path = control.control_socket_path({"XDG_RUNTIME_DIR": str(tmp_path)}, os.getuid())
    assert path == tmp_path / "moshd" / "control.sock"


@pytest.mark.parametrize(
    "runtime_dir",
    [None, "", "relative/dir", "/nonexistent/run/user/1000"],
)
def test_socket_falls_back_to_tmp(runtime_dir: str | None) -> None:
    env = {} if runtime_dir is None else {"XDG_RUNTIME_DIR": runtime_dir}
    assert control.control_socket_path(env, 1234) == Path("/tmp/moshd-1234/control.sock")


def test_runtime_dir_of_another_user_is_not_used(tmp_path: Path) -> None:
    other_uid = os.getuid() + 1
    path = control.control_socket_path({"XDG_RUNTIME_DIR": str(tmp_path)}, other_uid)
    assert path == Path(f"/tmp/moshd-{other_uid}/control.sock")


def test_runtime_dir_too_long_for_a_socket_address(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    path = control.control_socket_path({"XDG_RUNTIME_DIR": str(deep)}, os.getuid())
    assert path == Path(f"/tmp/moshd-{os.getuid()}/control.sock")


def test_default_arguments_use_this_process() -> None:
    assert control.control_socket_path().name == "control.sock"


def test_authorize_same_uid_only() -> None:
    assert control.authorize(1000, 1000)
    assert not control.authorize(1001, 1000)
    assert not control.authorize(0, 1000)  # root is not special
    assert not control.authorize(1000, 0)
    assert control.authorize(0, 0)


def test_peer_credentials_of_a_socketpair() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        creds = control.peer_credentials(left)
    assert creds == PeerCreds(os.getpid(), os.getuid(), os.getgid())
    assert creds == (os.getpid(), os.getuid(), os.getgid())


# --------------------------------------------------------------------------------------------
# Binding


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    # Short: tmp_path can be long, and a Unix socket address is at most 107 bytes.
    directory = Path(f"/tmp/moshd-test-{os.getpid()}-{tmp_path.name[-20:]}")
    return directory / "control.sock"


@pytest.fixture
def bound(socket_path: Path) -> Any:
    sock = control.bind_control_socket(socket_path)
    yield sock
    control.close_control_socket(sock, socket_path)


def test_bind_creates_private_directory_and_socket(socket_path: Path, bound: Any) -> None:
    assert stat.S_IMODE(os.stat(socket_path.parent).st_mode) == 0o700
    info = os.stat(socket_path)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert bound.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1


def test_second_bind_while_running_is_refused(socket_path: Path, bound: Any) -> None:
    with pytest.raises(AlreadyRunning):
        control.bind_control_socket(socket_path)
    assert stat.S_ISSOCK(os.stat(socket_path).st_mode)  # the live socket was left alone


def test_a_live_listener_without_our_lock_is_detected(socket_path: Path) -> None:
    control.ensure_private_directory(socket_path.parent)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as live:
        live.bind(str(socket_path))
        live.listen()
        with pytest.raises(AlreadyRunning, match="already listening"):
            control.bind_control_socket(socket_path)
    # The failed attempt released its lock: once the listener is gone, binding works.
    sock = control.bind_control_socket(socket_path)
    control.close_control_socket(sock, socket_path)


def test_stale_socket_is_replaced(socket_path: Path) -> None:
    control.ensure_private_directory(socket_path.parent)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(socket_path))  # closed without unlinking: what a crashed daemon leaves
    sock = control.bind_control_socket(socket_path)
    control.close_control_socket(sock, socket_path)
    assert not socket_path.exists()


def test_close_releases_so_the_next_daemon_can_bind(socket_path: Path) -> None:
    for _ in range(2):
        sock = control.bind_control_socket(socket_path)
        control.close_control_socket(sock, socket_path)


def test_a_regular_file_in_the_way_is_not_removed(socket_path: Path) -> None:
    control.ensure_private_directory(socket_path.parent)
    socket_path.write_text("precious")
    with pytest.raises(UnsafeControlDirectory, match="not a socket"):
        control.bind_control_socket(socket_path)
    assert socket_path.read_text() == "precious"


def test_too_open_directory_of_ours_is_tightened(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o755)
    os.chmod(socket_path.parent, 0o755)
    control.ensure_private_directory(socket_path.parent)
    assert stat.S_IMODE(os.stat(socket_path.parent).st_mode) == 0o700


def test_symlinked_directory_is_refused(socket_path: Path, tmp_path: Path) -> None:
    socket_path.parent.symlink_to(tmp_path)
    with pytest.raises(UnsafeControlDirectory, match="not a directory"):
        control.bind_control_socket(socket_path)


def test_directory_of_another_user_is_refused(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o700)
    with pytest.raises(UnsafeControlDirectory, match="belongs to uid"):
        control.ensure_private_directory(socket_path.parent, uid=os.getuid() + 1)


@pytest.fixture(autouse=True)
def _remove_test_directories(socket_path: Path) -> Any:
    yield
    directory = socket_path.parent
    if directory.is_symlink():
        directory.unlink()
    elif directory.exists():
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()


# --------------------------------------------------------------------------------------------
# The synchronous client against fake daemons


def test_client_without_daemon(socket_path: Path) -> None:
    with pytest.raises(DaemonUnreachable, match=r"not running \(no control socket"):
        control.request(socket_path, {"op": "status"})


def test_client_with_stale_socket(socket_path: Path) -> None:
    control.ensure_private_directory(socket_path.parent)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(socket_path))
    with pytest.raises(DaemonUnreachable, match="stale socket"):
        control.request(socket_path, {"op": "status"})


def test_client_times_out_on_a_silent_daemon(socket_path: Path) -> None:
    control.ensure_private_directory(socket_path.parent)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(str(socket_path))
        silent.listen()  # never accepts: connect succeeds through the backlog, no answer comes
        with pytest.raises(DaemonUnreachable, match=r"did not answer within 0\.2 s"):
            control.request(socket_path, StatusRequest(), timeout=0.2)


# --------------------------------------------------------------------------------------------
# The Trio server


class FakeDaemon:
    """A handler recording what it was asked."""

    def __init__(self) -> None:
        self.requests: list[tuple[Request, PeerCreds]] = []

    async def __call__(self, request: Request, peer: PeerCreds) -> Mapping[str, Any]:
        self.requests.append((request, peer))
        if isinstance(request, ListRequest):
            return {"ok": True, "sessions": []}
        if isinstance(request, StatusRequest):
            return {"pid": 1, "sessions": 0, "ports": [60001], "version": "test"}  # no "ok"
        if isinstance(request, KillRequest):
            if request.session_id == "crash":
                raise RuntimeError("bug in the daemon")
            if request.session_id == "unserialisable":
                return {"ok": True, "when": object()}
            raise ControlError("no_such_session", f"no session {request.session_id}")
        return {"ok": True, "session_id": "s1", "port": 60001, "key": "k" * 43}


async def start_server(
    nursery: trio.Nursery, path: Path, daemon: FakeDaemon, **kwargs: Any
) -> trio.socket.SocketType:
    listener = control.bind_control_socket(path)
    await nursery.start(
        lambda task_status: control.serve_control(
            listener, daemon, os.getuid(), task_status=task_status, **kwargs
        )
    )
    return listener


@pytest.fixture
async def server(socket_path: Path) -> AsyncIterator[FakeDaemon]:
    daemon = FakeDaemon()
    async with trio.open_nursery() as nursery:
        listener = await start_server(nursery, socket_path, daemon)
        yield daemon
        nursery.cancel_scope.cancel()
    control.close_control_socket(listener, socket_path)


async def ask(path: Path, message: Mapping[str, Any] | Request) -> dict[str, Any]:
    return await trio.to_thread.run_sync(lambda: control.request(path, message))


@pytest.mark.trio
async def test_list_through_the_sync_client(socket_path: Path, server: FakeDaemon) -> None:
    assert await ask(socket_path, {"op": "list"}) == {"ok": True, "sessions": []}
    [(request, peer)] = server.requests
    assert request == ListRequest()
    assert peer == PeerCreds(os.getpid(), os.getuid(), os.getgid())


@pytest.mark.trio
async def test_new_request_dataclass_through_the_client(
    socket_path: Path, server: FakeDaemon
) -> None:
    sent = NewRequest(command=["top"], env={"LANG": "C.UTF-8"}, port=PortRange(60001, 60005))
    reply = await ask(socket_path, sent)
    assert reply == {"ok": True, "session_id": "s1", "port": 60001, "key": "k" * 43}
    assert server.requests[0][0] == sent


@pytest.mark.trio
async def test_ok_is_added_when_the_handler_leaves_it_out(
    socket_path: Path, server: FakeDaemon
) -> None:
    reply = await ask(socket_path, {"op": "status"})
    assert reply == {"ok": True, "pid": 1, "sessions": 0, "ports": [60001], "version": "test"}


@pytest.mark.trio
async def test_handler_errors_become_error_replies(socket_path: Path, server: FakeDaemon) -> None:
    reply = await ask(socket_path, {"op": "kill", "session_id": "nope"})
    assert reply == {"ok": False, "code": "no_such_session", "error": "no session nope"}
    reply = await ask(socket_path, {"op": "kill", "session_id": "crash"})
    assert reply["ok"] is False
    assert reply["code"] == "internal"
    assert "RuntimeError" in reply["error"]
    reply = await ask(socket_path, {"op": "kill", "session_id": "unserialisable"})
    assert reply == {"ok": False, "code": "internal", "error": "internal error in moshd: bad reply"}
    # The server is still serving after a handler crashed.
    assert (await ask(socket_path, {"op": "list"}))["ok"] is True


@pytest.mark.trio
async def test_forbidden_peer_gets_refused(socket_path: Path) -> None:
    daemon = FakeDaemon()
    seen: list[tuple[int, int]] = []

    def refuse(peer_uid: int, own_uid: int) -> bool:
        seen.append((peer_uid, own_uid))
        return False

    async with trio.open_nursery() as nursery:
        listener = await start_server(nursery, socket_path, daemon, authorizer=refuse)
        reply = await ask(socket_path, {"op": "list"})
        nursery.cancel_scope.cancel()
    control.close_control_socket(listener, socket_path)
    assert reply["ok"] is False
    assert reply["code"] == "forbidden"
    assert seen == [(os.getuid(), os.getuid())]
    assert daemon.requests == []  # the handler never saw the request


async def connect(path: Path) -> trio.SocketStream:
    return await trio.open_unix_socket(str(path))


class LineReceiver:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def __call__(self) -> dict[str, Any]:
        with trio.fail_after(5):
            while b"\n" not in self.buffer:
                chunk = await self.stream.receive_some()
                assert chunk, f"connection closed after {self.buffer!r}"
                self.buffer += chunk
        data, self.buffer = self.buffer.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(data)
        return reply


@pytest.mark.trio
async def test_several_requests_on_one_connection_and_bad_ones_do_not_end_it(
    socket_path: Path, server: FakeDaemon
) -> None:
    async with await connect(socket_path) as stream:
        receive_line = LineReceiver(stream)
        await stream.send_all(b'{"op": "list"}\n\n{"op": "nope"}\n')
        assert (await receive_line())["ok"] is True
        bad = await receive_line()
        assert bad["code"] == "bad_request"
        assert "unknown op 'nope'" in bad["error"]
        await stream.send_all(b'{"op": "status"}')  # last request without its newline
        await stream.send_eof()
        assert (await receive_line())["version"] == "test"


@pytest.mark.trio
async def test_overlong_line_is_refused_and_the_server_survives(
    socket_path: Path, server: FakeDaemon
) -> None:
    async with await connect(socket_path) as stream:
        await stream.send_all(b"x" * (control.MAX_LINE_BYTES + 10))
        reply = await LineReceiver(stream)()
        assert reply["code"] == "line_too_long"
        with trio.fail_after(5):
            assert await stream.receive_some() == b""  # and the connection is closed
    assert (await ask(socket_path, {"op": "list"}))["ok"] is True


@pytest.mark.trio
async def test_client_disconnecting_early_does_not_stop_the_server(
    socket_path: Path, server: FakeDaemon
) -> None:
    stream = await connect(socket_path)
    await stream.send_all(b'{"op": "li')
    await stream.aclose()
    assert (await ask(socket_path, {"op": "list"}))["ok"] is True


@pytest.mark.trio
async def test_idle_connections_are_closed(socket_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        listener = await start_server(nursery, socket_path, FakeDaemon(), idle_timeout=0.1)
        async with await connect(socket_path) as stream:
            with trio.fail_after(5):
                assert await stream.receive_some() == b""
        nursery.cancel_scope.cancel()
    control.close_control_socket(listener, socket_path)


@pytest.mark.trio
async def test_serve_control_accepts_a_socket_listener(socket_path: Path) -> None:
    daemon = FakeDaemon()
    sock = control.bind_control_socket(socket_path)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: control.serve_control(
                trio.SocketListener(sock), daemon, os.getuid(), task_status=task_status
            )
        )
        assert (await ask(socket_path, {"op": "list"}))["ok"] is True
        nursery.cancel_scope.cancel()
    control.close_control_socket(sock, socket_path)


@pytest.mark.trio
async def test_client_reports_a_daemon_that_hangs_up(socket_path: Path) -> None:
    control.ensure_private_directory(socket_path.parent)
    listener = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await listener.bind(str(socket_path))
    listener.listen()

    async def hang_up_on_first_caller() -> None:
        connection, _ = await listener.accept()
        await connection.recv(1000)  # read the request, so that closing sends EOF, not RST
        connection.close()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hang_up_on_first_caller)
        with pytest.raises(DaemonUnreachable, match="closed the connection without answering"):
            await ask(socket_path, {"op": "list"})
    listener.close()


@pytest.mark.trio
async def test_client_rejects_a_reply_that_is_not_json(socket_path: Path) -> None:
    control.ensure_private_directory(socket_path.parent)
    listener = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await listener.bind(str(socket_path))
    listener.listen()

    async def answer_garbage() -> None:
        connection, _ = await listener.accept()
        await connection.send(b"hello\n")
        connection.close()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer_garbage)
        with pytest.raises(ProtocolError, match="not JSON"):
            await ask(socket_path, {"op": "list"})
    listener.close()


def test_port_zero_lets_the_system_choose() -> None:
    assert parse_port_spec("0") == PortRange(0, 0)

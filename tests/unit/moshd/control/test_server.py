"""moshd.control.server: the Trio server, through the synchronous client and raw sockets."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from moshd.control import binding, client
from moshd.control.errors import (
    ControlError,
)
from moshd.control.framing import MAX_LINE_BYTES
from moshd.control.messages import (
    KillRequest,
    ListRequest,
    NewRequest,
    Request,
    StatusRequest,
)
from moshd.control.paths import PeerCreds
from moshd.control.server import serve_control
from moshd.ports import PortRange

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
    listener = binding.bind_control_socket(path)
    await nursery.start(
        lambda task_status: serve_control(
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
    binding.close_control_socket(listener, socket_path)


async def ask(path: Path, message: Mapping[str, Any] | Request) -> dict[str, Any]:
    return await trio.to_thread.run_sync(lambda: client.request(path, message))


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
    binding.close_control_socket(listener, socket_path)
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
        await stream.send_all(b"x" * (MAX_LINE_BYTES + 10))
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
    binding.close_control_socket(listener, socket_path)


@pytest.mark.trio
async def test_serve_control_accepts_a_socket_listener(socket_path: Path) -> None:
    daemon = FakeDaemon()
    sock = binding.bind_control_socket(socket_path)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: serve_control(
                trio.SocketListener(sock), daemon, os.getuid(), task_status=task_status
            )
        )
        assert (await ask(socket_path, {"op": "list"}))["ok"] is True
        nursery.cancel_scope.cancel()
    binding.close_control_socket(sock, socket_path)

"""moshd.control under abuse: hostile JSON, failing accept(), too many or stalled clients."""

from __future__ import annotations

import errno
import json
import os
import resource
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio
from structlog.testing import capture_logs

from moshd.control import binding, fd_exhaustion, server
from moshd.control.errors import ControlError, ProtocolError
from moshd.control.messages import Request
from moshd.control.paths import PeerCreds
from moshd.control.server import serve_control
from moshd.control.validation import parse_request

HOSTILE_LINES = [
    pytest.param(b"[" * 20_000 + b"]" * 20_000, "nested too deeply", id="deep-array"),
    pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "nested too deeply", id="deep-object"),
    pytest.param(b"1" * 5_000, "number too long", id="huge-integer"),
    pytest.param(b'{"op":"new","width":' + b"9" * 5_000 + b"}", "number too long", id="huge-field"),
]


@pytest.mark.parametrize(("raw", "message"), HOSTILE_LINES)
def test_hostile_json_is_a_protocol_error(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_request(raw)


class Handler:
    """Answers `list` with `reply_size` bytes of padding; counts the requests it saw."""

    def __init__(self, reply_size: int = 0, error: BaseException | None = None) -> None:
        self.reply_size = reply_size
        self.error = error
        self.calls = 0

    async def __call__(self, request: Request, peer: PeerCreds) -> Mapping[str, Any]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return {"ok": True, "sessions": [], "padding": "x" * self.reply_size}


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    return tmp_path / "moshd" / "control.sock"


@pytest.fixture
async def serve(socket_path: Path) -> AsyncIterator[Any]:
    """serve(handler, **serve_control options): start a server on socket_path."""
    async with trio.open_nursery() as nursery:
        listeners: list[trio.socket.SocketType] = []

        async def start(handler: Handler, **options: Any) -> None:
            listener = binding.bind_control_socket(socket_path)
            listeners.append(listener)
            await nursery.start(
                lambda task_status: serve_control(
                    listener, handler, os.getuid(), task_status=task_status, **options
                )
            )

        yield start
        nursery.cancel_scope.cancel()
    for listener in listeners:
        binding.close_control_socket(listener, socket_path)


async def exchange(path: Path, line: bytes) -> dict[str, Any]:
    """Send one line on a new connection and read one reply line."""
    async with await trio.open_unix_socket(str(path)) as stream:
        await stream.send_all(line)
        return await read_line(stream)


async def read_line(stream: trio.SocketStream) -> dict[str, Any]:
    [reply] = await read_lines(stream, 1)
    return reply


async def read_lines(stream: trio.SocketStream, count: int) -> list[dict[str, Any]]:
    buffer = b""
    with trio.fail_after(5):
        while buffer.count(b"\n") < count:
            chunk = await stream.receive_some()
            assert chunk, f"connection closed after {buffer!r}"
            buffer += chunk
    return [json.loads(line) for line in buffer.split(b"\n")[:count]]


@pytest.mark.parametrize(("raw", "message"), HOSTILE_LINES)
@pytest.mark.trio
async def test_hostile_json_gets_a_bad_request_reply_and_no_traceback(
    socket_path: Path, serve: Any, raw: bytes, message: str
) -> None:
    await serve(Handler())
    with capture_logs() as logs:
        async with await trio.open_unix_socket(str(socket_path)) as stream:
            await stream.send_all(raw + b"\n" + b'{"op":"list"}\n')
            bad, good = await read_lines(stream, 2)
    assert bad["ok"] is False
    assert bad["code"] == "bad_request"
    assert message in bad["error"]
    assert good["ok"] is True  # the same connection goes on serving
    assert not [entry for entry in logs if entry["log_level"] in ("error", "critical")]


@pytest.mark.trio
async def test_a_parser_crash_is_a_bad_request_not_a_dead_connection(
    socket_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(line: bytes) -> Request:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(server, "parse_request", crash)
    await serve(Handler())
    reply = await exchange(socket_path, b'{"op":"list"}\n')
    assert reply["code"] == "bad_request"


class FailingListener(trio.abc.Listener[trio.SocketStream]):
    """A real listener whose accept() first fails `failures` times with `error`."""

    def __init__(self, inner: trio.SocketListener, failures: int, error: int) -> None:
        self.inner = inner
        self.failures = failures
        self.error = error
        self.attempts = 0

    async def accept(self) -> trio.SocketStream:
        self.attempts += 1
        if self.attempts <= self.failures:
            await trio.lowlevel.checkpoint()
            raise OSError(self.error, os.strerror(self.error))
        return await self.inner.accept()

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("error", [errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM])
@pytest.mark.trio
async def test_accept_errors_pause_and_retry_instead_of_crashing(
    socket_path: Path, error: int
) -> None:
    sock = binding.bind_control_socket(socket_path)
    listener = FailingListener(trio.SocketListener(sock), failures=3, error=error)
    try:
        with capture_logs() as logs:
            async with trio.open_nursery() as nursery:
                await nursery.start(
                    lambda task_status: serve_control(
                        listener, Handler(), os.getuid(), task_status=task_status
                    )
                )
                reply = await exchange(socket_path, b'{"op":"list"}\n')
                nursery.cancel_scope.cancel()
    finally:
        binding.close_control_socket(sock, socket_path)
    assert reply["ok"] is True
    assert listener.attempts >= 4
    events = [entry["event"] for entry in logs]
    # logged once when it starts failing and once when it recovers, not once per attempt
    assert events.count("control.accept_failed") == 1
    assert events.count("control.accept_resumed") == 1
    [failed] = [entry for entry in logs if entry["event"] == "control.accept_failed"]
    assert failed["errno"] == errno.errorcode[error]
    assert failed["out_of_fds"] is (error in (errno.EMFILE, errno.ENFILE))


@pytest.mark.trio
async def test_running_out_of_fds_in_a_handler_gets_a_clear_reply(
    socket_path: Path, serve: Any
) -> None:
    await serve(Handler(error=OSError(errno.EMFILE, "Too many open files")))
    reply = await exchange(socket_path, b'{"op":"list"}\n')
    assert reply["code"] == "out_of_fds"
    assert "run out of file descriptors" in reply["error"]
    assert str(resource.getrlimit(resource.RLIMIT_NOFILE)[0]) in reply["error"]


def test_out_of_fds_recognises_only_fd_exhaustion() -> None:
    assert isinstance(fd_exhaustion.out_of_fds(OSError(errno.ENFILE, "x")), ControlError)
    assert fd_exhaustion.out_of_fds(OSError(errno.ENOENT, "x")) is None
    assert fd_exhaustion.out_of_fds(ValueError("x")) is None


@pytest.mark.trio
async def test_connections_beyond_the_limit_are_refused_with_a_reason(
    socket_path: Path, serve: Any
) -> None:
    await serve(Handler(), max_connections=3)
    held = [await trio.open_unix_socket(str(socket_path)) for _ in range(3)]
    try:
        # the held ones are being served: each answers
        for stream in held:
            await stream.send_all(b'{"op":"list"}\n')
            assert (await read_line(stream))["ok"] is True
        refused = await exchange(socket_path, b'{"op":"list"}\n')
        assert refused["code"] == "busy"
        assert "3 control connections" in refused["error"]
    finally:
        for stream in held:
            await stream.aclose()
    with trio.fail_after(5):  # their slots come back once they are gone
        while (await exchange(socket_path, b'{"op":"list"}\n')).get("code") == "busy":
            await trio.sleep(0.01)


@pytest.mark.trio
async def test_a_client_that_never_reads_its_reply_loses_its_connection(
    socket_path: Path, serve: Any
) -> None:
    # One connection allowed, and a reply far beyond what the socket buffers hold: the
    # stalled client holds the only slot until the reply times out.
    await serve(Handler(reply_size=8 * 1024 * 1024), max_connections=1, reply_timeout=0.2)
    with capture_logs() as logs:
        async with await trio.open_unix_socket(str(socket_path)) as stalled:
            await stalled.send_all(b'{"op":"list"}\n')  # and never read
            with trio.fail_after(10):
                while True:
                    async with await trio.open_unix_socket(str(socket_path)) as other:
                        # A refusal arrives at once; an answer takes the whole reply.
                        await other.send_all(b'{"op":"status"}\n')
                        first = await other.receive_some(64)
                    if not first.startswith(b'{"ok":false'):
                        break
                    await trio.sleep(0.05)
    assert b'"ok":true' in first
    assert "control.reply_timed_out" in [entry["event"] for entry in logs]


@pytest.mark.trio
async def test_idle_connections_time_out_and_free_their_slot(socket_path: Path, serve: Any) -> None:
    await serve(Handler(), max_connections=1, idle_timeout=0.1)
    async with await trio.open_unix_socket(str(socket_path)) as idle:
        await idle.send_all(b'{"op":"li')  # half a request, then nothing
        with trio.fail_after(5):
            assert await idle.receive_some() == b""
    assert (await exchange(socket_path, b'{"op":"list"}\n'))["ok"] is True

"""The daemon's control server (Trio): the accept loop, the cap on connections at once, the
per-connection timeouts, and turning each request line into its handler's reply line.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple, TypeAlias

import structlog
import trio

from moshd.control.codes import ErrorCode
from moshd.control.errors import ControlError, ProtocolError
from moshd.control.fd_exhaustion import FD_EXHAUSTION_ERRNOS, fd_soft_limit, out_of_fds
from moshd.control.framing import MAX_LINE_BYTES, LineFramer
from moshd.control.messages import Request, encode_line, error_reply
from moshd.control.paths import PeerCreds, authorize, peer_credentials
from moshd.control.validation import parse_request

MAX_CONNECTIONS = 64  # control connections served at once; `mosh-server` needs one, briefly
REPLY_TIMEOUT = 10.0  # s a client gets to take a reply (`mosh-server` waits 5 s in all)
ACCEPT_RETRY_PAUSE = 0.1  # s between accept() attempts while it fails (trio's serve_listeners)

_log = structlog.get_logger("moshd.control")

Handler: TypeAlias = Callable[[Request, PeerCreds], Awaitable[Mapping[str, Any]]]
Authorizer: TypeAlias = Callable[[int, int], bool]


async def serve_control(
    listener_socket: trio.socket.SocketType | trio.abc.Listener[trio.SocketStream],
    handler: Handler,
    own_uid: int,
    *,
    authorizer: Authorizer = authorize,
    idle_timeout: float = 60.0,
    reply_timeout: float = REPLY_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Accept control connections forever, answering each request line with `handler`'s reply.

    A connection from another uid gets `{"ok": false, "code": "forbidden"}` and is closed.
    A handler may raise ControlError for an error reply; any other exception becomes an
    `internal` error reply and is logged. No connection's failure stops the server, and
    neither does a failing accept() (out of file descriptors): it pauses and tries again.
    Beyond `max_connections` at once, a connection gets a `busy` error line and is closed.
    """
    listener = (
        listener_socket
        if isinstance(listener_socket, trio.abc.Listener)
        else trio.SocketListener(listener_socket)
    )
    limits = _Limits(idle_timeout, reply_timeout)
    open_connections = 0

    async def serve_one(stream: trio.SocketStream) -> None:
        nonlocal open_connections
        try:
            await _serve_connection(stream, handler, own_uid, authorizer, limits)
        finally:
            open_connections -= 1

    async with trio.open_nursery() as nursery:
        task_status.started()
        while True:
            stream = await _accept(listener)
            if open_connections >= max_connections:
                await _refuse_busy(stream, max_connections, reply_timeout)
                continue
            open_connections += 1
            nursery.start_soon(serve_one, stream)


class _Limits(NamedTuple):
    idle_timeout: float  # for each request to arrive
    reply_timeout: float  # for each reply to be taken by the client


class _ClientStalled(Exception):
    """The client did not read a reply within the reply timeout."""


async def _accept(listener: trio.abc.Listener[trio.SocketStream]) -> trio.SocketStream:
    """The next connection. accept() failing for lack of resources (EMFILE: the daemon is out
    of file descriptors) leaves the connection queued, so retrying at once would spin: pause,
    as trio's serve_listeners does. The failure is logged once, and its end once."""
    failures = 0
    while True:
        try:
            stream = await listener.accept()
        except OSError as error:
            if failures == 0:
                _log.error(
                    "control.accept_failed",
                    errno=errno.errorcode.get(error.errno or 0, error.errno),
                    error=error.strerror,
                    out_of_fds=error.errno in FD_EXHAUSTION_ERRNOS,
                    fd_limit=fd_soft_limit(),
                    retry_s=ACCEPT_RETRY_PAUSE,
                )
            failures += 1
            await trio.sleep(ACCEPT_RETRY_PAUSE)
            continue
        if failures:
            _log.info("control.accept_resumed", failed_attempts=failures)
        return stream


async def _refuse_busy(stream: trio.SocketStream, limit: int, reply_timeout: float) -> None:
    """Tell a connection beyond the limit why it is turned away, and close it.

    Refusing beats not accepting: the caller learns at once what is wrong instead of waiting
    out its timeout in the listen backlog, and the daemon's fds stay bounded either way."""
    _log.warning("control.busy", connections=limit)
    message = f"moshd is already serving {limit} control connections; try again shortly"
    async with stream:
        with trio.move_on_after(reply_timeout):  # on an empty socket buffer this never waits
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_all(encode_line(error_reply(ErrorCode.BUSY, message)))


async def _serve_connection(
    stream: trio.SocketStream,
    handler: Handler,
    own_uid: int,
    authorizer: Authorizer,
    limits: _Limits,
) -> None:
    async with stream:
        try:
            peer = peer_credentials(stream.socket)
            if not authorizer(peer.uid, own_uid):
                _log.warning("control.forbidden", peer_pid=peer.pid, peer_uid=peer.uid)
                refusal = error_reply(ErrorCode.FORBIDDEN, "permission denied: not your daemon")
                await _send(stream, encode_line(refusal), limits.reply_timeout)
                return
            await _answer_requests(stream, handler, peer, limits)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away; nothing to answer
        except _ClientStalled:
            _log.warning("control.reply_timed_out", timeout_s=limits.reply_timeout)
        except Exception:
            _log.exception("control.connection_failed")


async def _answer_requests(
    stream: trio.SocketStream, handler: Handler, peer: PeerCreds, limits: _Limits
) -> None:
    framer = LineFramer(MAX_LINE_BYTES, "request")
    while True:
        # Only the wait for a request is timed: a handler is never cancelled half-way through.
        with trio.move_on_after(limits.idle_timeout) as idle:
            try:
                line = await _next_line(stream, framer)
            except ProtocolError as error:  # too long: there is no finding the next request
                too_long = error_reply(ErrorCode.LINE_TOO_LONG, str(error))
                await _send(stream, encode_line(too_long), limits.reply_timeout)
                return
        if idle.cancelled_caught or line is None:
            return
        if line.strip():
            await _send(stream, await _reply_line(line, handler, peer), limits.reply_timeout)


async def _send(stream: trio.SocketStream, data: bytes, timeout: float) -> None:
    """Write a reply; a client that does not read it in time must not hold its task forever."""
    with trio.move_on_after(timeout) as scope:
        await stream.send_all(data)
    if scope.cancelled_caught:
        raise _ClientStalled


async def _reply_line(line: bytes, handler: Handler, peer: PeerCreds) -> bytes:
    reply = await _reply_to(line, handler, peer)
    try:
        return encode_line(reply)
    except (TypeError, ValueError) as error:  # the handler returned something not JSON
        _log.error("control.reply_not_json", error_type=type(error).__name__)
        return encode_line(error_reply(ErrorCode.INTERNAL, "internal error in moshd: bad reply"))


async def _reply_to(line: bytes, handler: Handler, peer: PeerCreds) -> Mapping[str, Any]:
    try:
        parsed = parse_request(line)
    except ProtocolError as error:
        return error_reply(error.code, str(error))
    except Exception as error:  # a parser bug must cost one reply, never the connection
        _log.warning("control.unparsable_request", error_type=type(error).__name__)
        return error_reply(ErrorCode.BAD_REQUEST, "request could not be parsed")
    try:
        reply = await handler(parsed, peer)
    except ControlError as error:
        return error_reply(error.code, error.message)
    except Exception as error:
        refusal = out_of_fds(error)
        if refusal is not None:
            _log.error("control.out_of_fds", op=parsed.op, fd_limit=fd_soft_limit())
            return error_reply(refusal.code, refusal.message)
        # Never log the request or reply wholesale: a `new` reply carries the session key.
        _log.exception("control.handler_failed", op=parsed.op, peer_pid=peer.pid)
        return error_reply(ErrorCode.INTERNAL, f"internal error in moshd: {type(error).__name__}")
    return reply if "ok" in reply else {"ok": True, **reply}


async def _next_line(stream: trio.SocketStream, framer: LineFramer) -> bytes | None:
    """The next request line without its newline; the unterminated tail at EOF; None at EOF."""
    while True:
        line = framer.next_line()
        if line is not None:
            return line
        chunk = await stream.receive_some(65536)
        if not chunk:
            return framer.take_tail() or None
        framer.feed(chunk)

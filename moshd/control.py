"""The daemon's side of the control socket: who may use it, binding it, the Trio server.

The protocol itself (requests, replies, the socket's path) and the synchronous client that
`mosh-server` uses are in `moshd.control_protocol`, which needs no trio; they are re-exported
here, so that the daemon and its tests find everything in one place.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import resource
import socket
import stat
import struct
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypeAlias

import structlog
import trio

from moshd.control_protocol import (
    CODE_BAD_REQUEST,
    CODE_FORBIDDEN,
    CODE_INTERNAL,
    CODE_LINE_TOO_LONG,
    CODE_NO_SUCH_SESSION,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    MAX_COLORS,
    MAX_DIMENSION,
    MAX_LINE_BYTES,
    MAX_REPLY_BYTES,
    MAX_TIMEOUT_S,
    SOCKET_NAME,
    AlreadyRunning,
    ControlError,
    DaemonUnreachable,
    ErrorReply,
    KillRequest,
    ListReply,
    ListRequest,
    NewReply,
    NewRequest,
    PortRange,
    ProtocolError,
    Request,
    SessionInfo,
    StatusReply,
    StatusRequest,
    UnsafeControlDirectory,
    control_socket_path,
    encode_line,
    error_reply,
    parse_port_spec,
    parse_request,
    request,
    request_to_json,
)

_LOCK_NAME = "control.lock"

MAX_CONNECTIONS = 64  # control connections served at once; `mosh-server` needs one, briefly
REPLY_TIMEOUT = 10.0  # s a client gets to take a reply (`mosh-server` waits 5 s in all)
ACCEPT_RETRY_PAUSE = 0.1  # s between accept() attempts while it fails (trio's serve_listeners)
# The process (EMFILE) or the whole system (ENFILE) is out of file descriptors.
FD_EXHAUSTION_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE})
CODE_BUSY = "busy"
CODE_OUT_OF_FDS = "out_of_fds"

_log = structlog.get_logger("moshd.control")

# ---------------------------------------------------------------------------------------------
# Who may use the socket


class PeerCreds(NamedTuple):
    pid: int
    uid: int
    gid: int


_UCRED = struct.Struct("3i")  # struct ucred { pid_t pid; uid_t uid; gid_t gid; }


def peer_credentials(sock: socket.socket | trio.socket.SocketType) -> PeerCreds:
    """The pid, uid and gid of the process at the other end of a Unix stream socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return PeerCreds(pid, uid, gid)


def authorize(peer_uid: int, own_uid: int) -> bool:
    """Only the daemon's own user may use it. Root is not special: root can become the user."""
    return peer_uid == own_uid


# ---------------------------------------------------------------------------------------------
# Binding the socket (daemon side)

# Lock file descriptors held while a daemon owns a socket path, keyed by that path. The lock
# closes the race in which two starting daemons both find a stale socket and one unlinks the
# socket the other has just bound.
_held_locks: dict[str, int] = {}


def ensure_private_directory(directory: Path, uid: int | None = None) -> None:
    """Create `directory` 0700, or check that the existing one is ours, not a symlink, private."""
    if uid is None:
        uid = os.getuid()
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, 0o700)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeControlDirectory(f"{directory} is not a directory")
    if info.st_uid != uid:
        raise UnsafeControlDirectory(f"{directory} belongs to uid {info.st_uid}, not {uid}")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(directory, 0o700)  # ours, merely too open (e.g. created under another umask)


def bind_control_socket(path: Path | str) -> trio.socket.SocketType:
    """Bind and listen on the control socket, replacing a stale socket file.

    Raises AlreadyRunning if a live daemon answers on `path` (or holds its lock).
    Undo with `close_control_socket`.
    """
    path = Path(path)
    ensure_private_directory(path.parent)
    lock_fd = _acquire_instance_lock(path)
    try:
        _remove_stale_socket(path)
        listener = _listening_unix_socket(path)
    except BaseException:
        _release_instance_lock(path, lock_fd)
        raise
    return trio.socket.from_stdlib_socket(listener)


def _listening_unix_socket(path: Path) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            listener.bind(os.fspath(path))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise AlreadyRunning(f"a moshd is already listening on {path}") from None
            raise
        # The 0700 directory already keeps others out; 0600 is the belt to its braces.
        os.chmod(path, 0o600)
        listener.listen(128)
    except BaseException:
        listener.close()
        raise
    return listener


def close_control_socket(sock: trio.socket.SocketType, path: Path | str) -> None:
    """Close the listener, remove the socket file and release the instance lock."""
    path = Path(path)
    try:
        sock.close()
    except RuntimeError:  # outside a Trio run nobody can be waiting on it: close it plainly
        os.close(sock.detach())
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    lock_fd = _held_locks.pop(os.fspath(path), None)
    if lock_fd is not None:
        os.close(lock_fd)


def _acquire_instance_lock(path: Path) -> int:
    lock_fd = os.open(path.parent / _LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock_fd)
        raise AlreadyRunning(f"another moshd holds {path.parent / _LOCK_NAME}") from None
    _held_locks[os.fspath(path)] = lock_fd
    return lock_fd


def _release_instance_lock(path: Path, lock_fd: int) -> None:
    _held_locks.pop(os.fspath(path), None)
    os.close(lock_fd)


def _remove_stale_socket(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise UnsafeControlDirectory(f"{path} exists and is not a socket; not removing it")
    if _socket_answers(path):
        raise AlreadyRunning(f"a moshd is already listening on {path}")
    os.unlink(path)


def _socket_answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(os.fspath(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


# ---------------------------------------------------------------------------------------------
# The Trio server (daemon side)

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
                    fd_limit=_fd_soft_limit(),
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
                await stream.send_all(encode_line(error_reply(CODE_BUSY, message)))


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
                refusal = error_reply(CODE_FORBIDDEN, "permission denied: not your daemon")
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
    reader = _LineReader(stream)
    while True:
        # Only the wait for a request is timed: a handler is never cancelled half-way through.
        with trio.move_on_after(limits.idle_timeout) as idle:
            try:
                line = await reader.next_line()
            except ProtocolError as error:  # too long: there is no finding the next request
                too_long = error_reply(CODE_LINE_TOO_LONG, str(error))
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


def _fd_soft_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def out_of_fds(error: BaseException) -> ControlError | None:
    """The error reply for `error` if it says moshd ran out of file descriptors, else None."""
    if not isinstance(error, OSError) or error.errno not in FD_EXHAUSTION_ERRNOS:
        return None
    limit = _fd_soft_limit()
    return ControlError(
        CODE_OUT_OF_FDS,
        f"moshd has run out of file descriptors ({error.strerror}; its limit is {limit}): "
        "end some sessions, or raise the limit (LimitNOFILE= or ulimit -Hn) and restart moshd",
    )


async def _reply_line(line: bytes, handler: Handler, peer: PeerCreds) -> bytes:
    reply = await _reply_to(line, handler, peer)
    try:
        return encode_line(reply)
    except (TypeError, ValueError) as error:  # the handler returned something not JSON
        _log.error("control.reply_not_json", error_type=type(error).__name__)
        return encode_line(error_reply(CODE_INTERNAL, "internal error in moshd: bad reply"))


async def _reply_to(line: bytes, handler: Handler, peer: PeerCreds) -> Mapping[str, Any]:
    try:
        parsed = parse_request(line)
    except ProtocolError as error:
        return error_reply(error.code, str(error))
    except Exception as error:  # a parser bug must cost one reply, never the connection
        _log.warning("control.unparsable_request", error_type=type(error).__name__)
        return error_reply(CODE_BAD_REQUEST, "request could not be parsed")
    try:
        reply = await handler(parsed, peer)
    except ControlError as error:
        return error_reply(error.code, error.message)
    except Exception as error:
        refusal = out_of_fds(error)
        if refusal is not None:
            _log.error("control.out_of_fds", op=parsed.op, fd_limit=_fd_soft_limit())
            return error_reply(refusal.code, refusal.message)
        # Never log the request or reply wholesale: a `new` reply carries the session key.
        _log.exception("control.handler_failed", op=parsed.op, peer_pid=peer.pid)
        return error_reply(CODE_INTERNAL, f"internal error in moshd: {type(error).__name__}")
    return reply if "ok" in reply else {"ok": True, **reply}


class _LineReader:
    """Splits a byte stream into lines of at most MAX_LINE_BYTES."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._eof = False

    async def next_line(self) -> bytes | None:
        """The next line without its newline; the unterminated tail at EOF; None at EOF."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                if newline > MAX_LINE_BYTES:
                    raise ProtocolError(f"request longer than {MAX_LINE_BYTES} bytes")
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                return line
            if len(self._buffer) > MAX_LINE_BYTES:
                raise ProtocolError(f"request longer than {MAX_LINE_BYTES} bytes")
            if self._eof:
                tail, self._buffer = bytes(self._buffer), bytearray()
                return tail or None
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                self._eof = True
            self._buffer += chunk


__all__ = [
    "CODE_BAD_REQUEST",
    "CODE_BUSY",
    "CODE_FORBIDDEN",
    "CODE_INTERNAL",
    "CODE_LINE_TOO_LONG",
    "CODE_NO_SUCH_SESSION",
    "CODE_OUT_OF_FDS",
    "DEFAULT_HEIGHT",
    "DEFAULT_WIDTH",
    "MAX_COLORS",
    "MAX_DIMENSION",
    "MAX_LINE_BYTES",
    "MAX_REPLY_BYTES",
    "MAX_TIMEOUT_S",
    "SOCKET_NAME",
    "AlreadyRunning",
    "ControlError",
    "DaemonUnreachable",
    "ErrorReply",
    "KillRequest",
    "ListReply",
    "ListRequest",
    "NewReply",
    "NewRequest",
    "PeerCreds",
    "PortRange",
    "ProtocolError",
    "Request",
    "SessionInfo",
    "StatusReply",
    "StatusRequest",
    "UnsafeControlDirectory",
    "authorize",
    "bind_control_socket",
    "close_control_socket",
    "control_socket_path",
    "encode_line",
    "ensure_private_directory",
    "error_reply",
    "out_of_fds",
    "parse_port_spec",
    "parse_request",
    "peer_credentials",
    "request",
    "request_to_json",
    "serve_control",
]

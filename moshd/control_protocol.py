"""The control protocol between `mosh-server` and the daemon: JSON lines over a Unix socket.

Each request is one JSON object on one line, `{"op": "new" | "list" | "kill" | "status", ...}`;
each reply is one JSON object on one line, `{"ok": true, ...}` or
`{"ok": false, "error": "human message", "code": "short_code"}`. A connection may carry several
requests in turn. Only processes of the daemon's own uid may talk to it (SO_PEERCRED); the
socket lives in a 0700 directory and is itself 0600, so that check is the second fence.

Unknown request fields are ignored, so that a newer `mosh-server` can still talk to an older
daemon that is running across an upgrade.

This module is the protocol and the synchronous client that `mosh-server` uses; it imports no
trio or structlog, so that `mosh-server new` starts fast (tests/unit/test_startup_imports.py
keeps it so). The daemon's side (binding the socket, the Trio server) is `moshd.control`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias, TypedDict

# A request line holds the caller's environment (at most 256 KiB, 6 bytes a character once
# JSON escapes control characters) and the command: 2 MiB, times 64 connections at most.
MAX_LINE_BYTES = 2 * 1024 * 1024
MAX_REPLY_BYTES = 16 * 1024 * 1024  # a `list` of thousands of sessions is still one line
MAX_DIMENSION = 4096  # beyond any real screen; bounds the emulator's memory
MAX_COLORS = 1 << 24  # `tput colors` of a direct-colour terminal
DEFAULT_WIDTH = 80
MAX_TIMEOUT_S = 10 * 365 * 24 * 3600
DEFAULT_HEIGHT = 24
# The caller's environment in a `new` request: far beyond any real login (a few KiB; module
# systems such as Lmod reach tens of KiB), well within what execve accepts.
MAX_ENV_VARIABLES = 1000
MAX_ENV_BYTES = 256 * 1024  # counted as execve does: NAME=VALUE plus a NUL, in UTF-8
MAX_UMASK = 0o777
SOCKET_NAME = "control.sock"
_SOCKADDR_UN_PATH_MAX = 107  # sizeof(sun_path) - 1 on Linux

# ---------------------------------------------------------------------------------------------
# Errors


class ProtocolError(ValueError):
    """A request or reply does not follow the protocol; the message says how."""

    code = "bad_request"


class ControlError(Exception):
    """Raised by a request handler to send `{"ok": false, "code": code, "error": message}`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DaemonUnreachable(Exception):
    """The daemon's control socket is missing, refuses connections, or does not answer."""


class AlreadyRunning(Exception):
    """Another daemon is already listening on the control socket."""


class UnsafeControlDirectory(Exception):
    """The control socket's directory is not a private directory owned by us."""


# Error codes used in replies.
CODE_BAD_REQUEST = "bad_request"
CODE_LINE_TOO_LONG = "line_too_long"
CODE_FORBIDDEN = "forbidden"
CODE_NO_SUCH_SESSION = "no_such_session"
CODE_INTERNAL = "internal"

# ---------------------------------------------------------------------------------------------
# Requests


@dataclass(frozen=True)
class PortRange:
    """`-p PORT` (low == high) or `-p LOW:HIGH`."""

    low: int
    high: int

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}:{self.high}"


@dataclass(frozen=True)
class NewRequest:
    command: list[str] | None = None  # None: the user's login shell
    env: dict[str, str] = field(default_factory=dict)  # the client's locale (`-l NAME=VALUE`)
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    colors: int | None = None
    bind_ip: str | None = None
    port: PortRange | None = None
    verbose: bool = False
    # MOSH_SERVER_NETWORK_TMOUT / MOSH_SERVER_SIGNAL_TMOUT of the `mosh-server new` caller, in s
    network_timeout: int | None = None
    signal_timeout: int | None = None
    # The whole environment and the umask of the `mosh-server new` caller, which the session
    # gets as upstream's per-session mosh-server would. None (an older mosh-server): the
    # daemon's own.
    caller_env: dict[str, str] | None = None
    umask: int | None = None
    op: Literal["new"] = field(default="new", init=False)


@dataclass(frozen=True)
class ListRequest:
    op: Literal["list"] = field(default="list", init=False)


@dataclass(frozen=True)
class KillRequest:
    session_id: str
    op: Literal["kill"] = field(default="kill", init=False)


@dataclass(frozen=True)
class StatusRequest:
    op: Literal["status"] = field(default="status", init=False)


Request: TypeAlias = NewRequest | ListRequest | KillRequest | StatusRequest

# ---------------------------------------------------------------------------------------------
# Replies (what handlers return and `request()` gives back)


class NewReply(TypedDict):
    ok: Literal[True]
    session_id: str
    port: int
    key: str


class SessionInfo(TypedDict):
    session_id: str
    command: list[str]
    created_at: float  # epoch seconds
    age_s: float
    peer: str | None  # "ip:port" of the client last heard from
    port: int
    pid: int


class ListReply(TypedDict):
    ok: Literal[True]
    sessions: list[SessionInfo]


class StatusReply(TypedDict):
    ok: Literal[True]
    pid: int
    sessions: int
    ports: list[int]
    version: str


class ErrorReply(TypedDict):
    ok: Literal[False]
    error: str
    code: str


def error_reply(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": message, "code": code}


# ---------------------------------------------------------------------------------------------
# Parsing and serialising requests


def parse_request(line: bytes) -> Request:
    """Parse one request line (with or without its newline) or raise ProtocolError."""
    if len(line) > MAX_LINE_BYTES + 1:
        raise ProtocolError(f"request longer than {MAX_LINE_BYTES} bytes")
    message = _decode_json(line)
    if not isinstance(message, dict):
        raise ProtocolError(f"request must be a JSON object, not {_json_type(message)}")
    op = message.get("op")
    if op == "new":
        return _parse_new(message)
    if op == "list":
        return ListRequest()
    if op == "status":
        return StatusRequest()
    if op == "kill":
        return KillRequest(session_id=_required(message, "session_id", str))
    if op is None:
        raise ProtocolError('request has no "op" field')
    raise ProtocolError(f"unknown op {op!r} (expected new, list, kill or status)")


def _decode_json(line: bytes) -> Any:
    """json.loads, with every way it can fail on hostile input turned into a ProtocolError."""
    try:
        return json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"request is not valid JSON: {error}") from None
    except RecursionError:  # `[[[[...` nested deeper than the interpreter's recursion limit
        raise ProtocolError("request is nested too deeply") from None
    except ValueError:  # an integer of more digits than int() will convert (sys.int_info)
        raise ProtocolError("request has a number too long to convert") from None


def request_to_json(request: Request) -> dict[str, Any]:
    """The wire form of a request (inverse of `parse_request`)."""
    if isinstance(request, NewRequest):
        return {
            "op": "new",
            "command": request.command,
            "env": request.env,
            "width": request.width,
            "height": request.height,
            "colors": request.colors,
            "bind_ip": request.bind_ip,
            "port": None if request.port is None else str(request.port),
            "verbose": request.verbose,
            "network_timeout": request.network_timeout,
            "signal_timeout": request.signal_timeout,
            "caller_env": request.caller_env,
            "umask": request.umask,
        }
    if isinstance(request, KillRequest):
        return {"op": "kill", "session_id": request.session_id}
    return {"op": request.op}


def encode_line(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def parse_port_spec(text: str) -> PortRange:
    """Parse "PORT" or "PORT:PORT2" (1..65535, PORT <= PORT2), raising ProtocolError."""
    low_text, colon, high_text = text.partition(":")
    if text == "0":
        return PortRange(0, 0)  # as upstream: any free port the system picks
    low = _parse_port_number(low_text, text)
    high = _parse_port_number(high_text, text) if colon else low
    if low > high:
        raise ProtocolError(f"bad port range {text!r}: {low} is greater than {high}")
    return PortRange(low, high)


def _parse_port_number(part: str, whole: str) -> int:
    if not part.isascii() or not part.isdigit():
        raise ProtocolError(f"bad port {whole!r}: {part!r} is not a number")
    number = int(part)
    if not 1 <= number <= 65535:
        raise ProtocolError(f"bad port {whole!r}: {number} is outside 1..65535")
    return number


def _parse_new(message: dict[str, Any]) -> NewRequest:
    command = _optional(message, "command", list)
    if command is not None:
        command = _parse_command(command)
    env = _optional(message, "env", dict)
    width = _optional_int(message, "width", 1, MAX_DIMENSION)
    height = _optional_int(message, "height", 1, MAX_DIMENSION)
    colors = _optional_int(message, "colors", 0, MAX_COLORS)
    bind_ip = _optional(message, "bind_ip", str)
    port = _optional(message, "port", str)
    verbose = _optional(message, "verbose", bool)
    network_timeout = _optional_int(message, "network_timeout", 1, MAX_TIMEOUT_S)
    signal_timeout = _optional_int(message, "signal_timeout", 1, MAX_TIMEOUT_S)
    caller_env = _optional(message, "caller_env", dict)
    umask = _optional_int(message, "umask", 0, MAX_UMASK)
    if bind_ip is not None:
        _check_ip(bind_ip)
    return NewRequest(
        command=command,
        env=_parse_env(env) if env is not None else {},
        width=width if width is not None else DEFAULT_WIDTH,
        height=height if height is not None else DEFAULT_HEIGHT,
        colors=colors,
        bind_ip=bind_ip,
        port=parse_port_spec(port) if port is not None else None,
        verbose=bool(verbose),
        network_timeout=network_timeout,
        signal_timeout=signal_timeout,
        caller_env=_parse_caller_env(caller_env) if caller_env is not None else None,
        umask=umask,
    )


def _parse_caller_env(env: dict[str, Any]) -> dict[str, str]:
    parsed = _parse_env(env, "caller_env")
    check_environment_size(parsed)
    return parsed


def check_environment_size(env: Mapping[str, str]) -> None:
    """Raise ProtocolError if `env` is beyond what a `new` request may carry (the daemon
    checks this; `mosh-server new` checks it first, to say so before starting anything)."""
    if len(env) > MAX_ENV_VARIABLES:
        raise ProtocolError(
            f"the environment has {len(env)} variables; moshd accepts at most {MAX_ENV_VARIABLES}"
        )
    size = environment_bytes(env)
    if size > MAX_ENV_BYTES:
        raise ProtocolError(
            f"the environment is {size} bytes; moshd accepts at most {MAX_ENV_BYTES}"
        )


def environment_bytes(env: Mapping[str, str]) -> int:
    """What `env` takes in an execve environment block: NAME=VALUE and a NUL per variable."""
    return sum(len(os.fsencode(name)) + len(os.fsencode(value)) + 2 for name, value in env.items())


def _parse_command(command: list[Any]) -> list[str]:
    if not command:
        raise ProtocolError('"command" must not be empty (use null for the login shell)')
    for argument in command:
        if not isinstance(argument, str):
            raise ProtocolError(f'"command" must be a list of strings, found {argument!r}')
        if "\0" in argument:
            raise ProtocolError('"command" arguments must not contain NUL characters')
    return list(command)


def _parse_env(env: dict[str, Any], field_name: str = "env") -> dict[str, str]:
    for name, value in env.items():
        if not isinstance(value, str):
            raise ProtocolError(
                f'"{field_name}" values must be strings, {name!r} is {_json_type(value)}'
            )
        if not name or "=" in name or "\0" in name or "\0" in value or not _encodable(name, value):
            raise ProtocolError(f'"{field_name}" has an invalid variable name or value: {name!r}')
    return dict(env)


def _encodable(*texts: str) -> bool:
    """Whether execve could be given these: JSON may carry surrogates no byte string has."""
    try:
        for text in texts:
            os.fsencode(text)
    except UnicodeEncodeError:
        return False
    return True


def _check_ip(text: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ProtocolError(f'"bind_ip" is not an IP address: {text!r}') from None


def _required(message: dict[str, Any], name: str, kind: type) -> Any:
    value = message.get(name)
    if value is None:
        raise ProtocolError(f'request has no "{name}" field')
    return _checked(name, value, kind)


def _optional(message: dict[str, Any], name: str, kind: type) -> Any:
    value = message.get(name)
    return None if value is None else _checked(name, value, kind)


def _optional_int(message: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value: int | None = _optional(message, name, int)
    if value is not None and not low <= value <= high:
        raise ProtocolError(f'"{name}" must be between {low} and {high}, not {value}')
    return value


def _checked(name: str, value: Any, kind: type) -> Any:
    # bool is an int subclass in Python; JSON true is not a width.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(
            f'"{name}" must be {_KIND_NAMES.get(kind, kind.__name__)}, not {_json_type(value)}'
        )
    return value


_KIND_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    list: "a list",
    dict: "an object",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


# ---------------------------------------------------------------------------------------------
# Where the socket lives


def control_socket_path(env: Mapping[str, str] = os.environ, uid: int | None = None) -> Path:
    """`$XDG_RUNTIME_DIR/moshd/control.sock`, or `/tmp/moshd-$UID/control.sock` when
    XDG_RUNTIME_DIR is unset, not an absolute path to a directory of ours, or too long for
    a Unix socket address."""
    if uid is None:
        uid = os.getuid()
    runtime_dir = env.get("XDG_RUNTIME_DIR", "")
    if runtime_dir and _is_usable_runtime_dir(runtime_dir, uid):
        candidate = Path(runtime_dir) / "moshd" / SOCKET_NAME
        if len(os.fsencode(candidate)) <= _SOCKADDR_UN_PATH_MAX:
            return candidate
    return Path(f"/tmp/moshd-{uid}") / SOCKET_NAME


def _is_usable_runtime_dir(path: str, uid: int) -> bool:
    if not os.path.isabs(path):
        return False
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == uid


# ---------------------------------------------------------------------------------------------
# The synchronous client (used by the short-lived `mosh-server` command)


def request(
    path: Path | str, message: Mapping[str, Any] | Request, timeout: float = 5.0
) -> dict[str, Any]:
    """Send one request and return the daemon's reply (which may be `{"ok": false, ...}`).

    Raises DaemonUnreachable when there is no daemon to ask or it does not answer in time.
    """
    if not isinstance(message, Mapping):
        message = request_to_json(message)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        _connect(sock, Path(path))
        try:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                # A daemon that refuses us answers and hangs up without reading the request,
                # so our send may fail although its reply is already waiting to be read.
                sock.sendall(encode_line(message))
            line = _read_reply_line(sock)
        except TimeoutError:
            raise DaemonUnreachable(f"moshd did not answer within {timeout:g} s") from None
        except OSError as error:
            raise DaemonUnreachable(f"lost the connection to moshd: {error.strerror}") from None
    return _parse_reply(line)


def _connect(sock: socket.socket, path: Path) -> None:
    try:
        sock.connect(os.fspath(path))
    except FileNotFoundError:
        raise DaemonUnreachable(f"moshd is not running (no control socket at {path})") from None
    except ConnectionRefusedError:
        raise DaemonUnreachable(
            f"moshd is not running ({path} refuses connections: a stale socket)"
        ) from None
    except PermissionError:
        raise DaemonUnreachable(f"not allowed to connect to {path}") from None
    except TimeoutError:
        raise DaemonUnreachable(f"timed out connecting to {path}") from None
    except OSError as error:
        raise DaemonUnreachable(f"cannot connect to {path}: {error.strerror}") from None


def _read_reply_line(sock: socket.socket) -> bytes:
    buffer = bytearray()
    while b"\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise DaemonUnreachable("moshd closed the connection without answering")
        buffer += chunk
        if len(buffer) > MAX_REPLY_BYTES:
            raise ProtocolError(f"reply longer than {MAX_REPLY_BYTES} bytes")
    return bytes(buffer[: buffer.index(b"\n")])


def _parse_reply(line: bytes) -> dict[str, Any]:
    try:
        reply = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"moshd sent a reply that is not JSON: {error}") from None
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        raise ProtocolError('moshd sent a reply without a boolean "ok" field')
    return reply


__all__ = [
    "CODE_BAD_REQUEST",
    "CODE_FORBIDDEN",
    "CODE_INTERNAL",
    "CODE_LINE_TOO_LONG",
    "CODE_NO_SUCH_SESSION",
    "DEFAULT_HEIGHT",
    "DEFAULT_WIDTH",
    "MAX_COLORS",
    "MAX_DIMENSION",
    "MAX_ENV_BYTES",
    "MAX_ENV_VARIABLES",
    "MAX_LINE_BYTES",
    "MAX_REPLY_BYTES",
    "MAX_TIMEOUT_S",
    "MAX_UMASK",
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
    "PortRange",
    "ProtocolError",
    "Request",
    "SessionInfo",
    "StatusReply",
    "StatusRequest",
    "UnsafeControlDirectory",
    "check_environment_size",
    "control_socket_path",
    "encode_line",
    "environment_bytes",
    "error_reply",
    "parse_port_spec",
    "parse_request",
    "request",
    "request_to_json",
]

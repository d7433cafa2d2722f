"""The messages of the control protocol: requests as dataclasses, replies as TypedDicts, and
their wire form.

Each request is one JSON object on one line,
`{"op": "new" | "list" | "kill" | "status" | "attach", ...}`;
each reply is one JSON object on one line, `{"ok": true, ...}` or
`{"ok": false, "error": "human message", "code": "short_code"}`. Parsing a request line back
into a request is `moshd.control.validation`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

from moshd.control.codes import ErrorCode
from moshd.ports import PortRange

DEFAULT_WIDTH = 80
DEFAULT_HEIGHT = 24
# The protocols a session may speak (moshd.attachment.Protocol): this project's own, or upstream
# mosh's protocol 2 for stock clients.
NATIVE_PROTOCOL = "native"
PROTO2_PROTOCOL = "proto2"
PROTOCOLS = (NATIVE_PROTOCOL, PROTO2_PROTOCOL)

# ---------------------------------------------------------------------------------------------
# Requests


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
    # What the session's clients speak (PROTOCOLS). Absent from a request: native, the only
    # protocol an older mosh-server knew (it printed 43-character keys for our client).
    protocol: str = NATIVE_PROTOCOL
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


@dataclass(frozen=True)
class AttachRequest:
    """A fresh key for a live session; the old key stops working. `session_id` None: the only
    detached session (error codes `no_detached_session`, `several_detached` otherwise)."""

    session_id: str | None = None
    op: Literal["attach"] = field(default="attach", init=False)


Request: TypeAlias = NewRequest | ListRequest | KillRequest | StatusRequest | AttachRequest

# ---------------------------------------------------------------------------------------------
# Replies (what the daemon's handler returns and `request()` gives back)


class NewReply(TypedDict):
    ok: Literal[True]
    session_id: str
    port: int
    key: str


class AttachReply(TypedDict):
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
    # "attached", "detached" (no datagram from its client for DETACHED_AFTER s) or "ending";
    # NotRequired: a daemon of an older version does not send them.
    state: NotRequired[str]
    state_since: NotRequired[float]  # epoch seconds
    last_heard: NotRequired[float | None]  # epoch seconds of the last datagram from a client
    protocol: NotRequired[str]  # PROTOCOLS; an older daemon's sessions are all native


class ListReply(TypedDict):
    ok: Literal[True]
    sessions: list[SessionInfo]


class KillReply(TypedDict):
    ok: Literal[True]


class StatusReply(TypedDict):
    ok: Literal[True]
    pid: int
    sessions: int
    ports: list[int]
    version: str


class ErrorReply(TypedDict):
    ok: Literal[False]
    error: str
    code: str  # an ErrorCode from this daemon; any string from another version


# The successful replies, one per request type.
OkReply: TypeAlias = NewReply | ListReply | KillReply | StatusReply | AttachReply


def error_reply(code: ErrorCode, message: str) -> ErrorReply:
    return {"ok": False, "error": message, "code": code}


# ---------------------------------------------------------------------------------------------
# The wire form


def request_to_json(request: Request) -> dict[str, Any]:
    """The wire form of a request (inverse of `moshd.control.validation.parse_request`)."""
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
            "protocol": request.protocol,
        }
    if isinstance(request, KillRequest):
        return {"op": "kill", "session_id": request.session_id}
    if isinstance(request, AttachRequest):
        return {"op": "attach", "session_id": request.session_id}
    return {"op": request.op}


def encode_line(message: Mapping[str, Any]) -> bytes:
    """A request or reply as one line of compact JSON, newline included."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"

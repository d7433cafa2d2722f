"""The control protocol between `mosh-server` and the daemon: JSON lines over a Unix socket.

One module per job:

- `messages`: requests (dataclasses), replies (TypedDicts) and their wire form
- `codes`: the error codes of error replies
- `errors`: the protocol's exceptions
- `validation`: parsing a request line into a request, and the limits on what it may hold
- `framing`: splitting a byte stream into lines, for both ends
- `paths`: where the socket lives, its private directory, and who is at the other end
- `client`: the synchronous `request()` that `mosh-server` uses
- `binding`: the daemon binding its socket, under an instance lock (imports trio)
- `server`: the daemon's Trio server (imports trio and structlog)
- `fd_exhaustion`: the error reply for a daemon out of file descriptors

This package re-exports the names of the light modules, which import no trio or structlog:
`mosh-server` imports it and must start fast (tests/unit/test_startup_imports.py keeps it so).
`binding` and `server` are imported by their full names, by the daemon only.
"""

from __future__ import annotations

from moshd.control.client import request
from moshd.control.codes import ErrorCode
from moshd.control.errors import (
    AlreadyRunning,
    ControlError,
    DaemonUnreachable,
    ProtocolError,
    UnsafeControlDirectory,
)
from moshd.control.framing import MAX_LINE_BYTES, MAX_REPLY_BYTES
from moshd.control.messages import (
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    AttachReply,
    AttachRequest,
    ErrorReply,
    KillReply,
    KillRequest,
    ListReply,
    ListRequest,
    NewReply,
    NewRequest,
    OkReply,
    Request,
    SessionInfo,
    StatusReply,
    StatusRequest,
    encode_line,
    error_reply,
    request_to_json,
)
from moshd.control.paths import PeerCreds, control_socket_path
from moshd.control.validation import check_environment_size, parse_request

__all__ = [
    "DEFAULT_HEIGHT",
    "DEFAULT_WIDTH",
    "MAX_LINE_BYTES",
    "MAX_REPLY_BYTES",
    "AlreadyRunning",
    "AttachReply",
    "AttachRequest",
    "ControlError",
    "DaemonUnreachable",
    "ErrorCode",
    "ErrorReply",
    "KillReply",
    "KillRequest",
    "ListReply",
    "ListRequest",
    "NewReply",
    "NewRequest",
    "OkReply",
    "PeerCreds",
    "ProtocolError",
    "Request",
    "SessionInfo",
    "StatusReply",
    "StatusRequest",
    "UnsafeControlDirectory",
    "check_environment_size",
    "control_socket_path",
    "encode_line",
    "error_reply",
    "parse_request",
    "request",
    "request_to_json",
]

"""The exceptions of the control protocol, on both the daemon's and the client's side."""

from __future__ import annotations

from moshd.control.codes import ErrorCode


class ProtocolError(ValueError):
    """A request or reply does not follow the protocol; the message says how."""

    code = ErrorCode.BAD_REQUEST


class ControlError(Exception):
    """Raised by a request handler to send `{"ok": false, "code": code, "error": message}`."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DaemonUnreachable(Exception):
    """The daemon's control socket is missing, refuses connections, or does not answer."""


class AlreadyRunning(Exception):
    """Another daemon is already listening on the control socket."""


class UnsafeControlDirectory(Exception):
    """The control socket's directory is not a private directory owned by us."""

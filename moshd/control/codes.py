"""The error codes of the control protocol: the `code` of an `{"ok": false, ...}` reply.

A StrEnum, so that a code is its own wire form: it goes into JSON as the plain string and
compares equal to the string a client reads back.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    BAD_REQUEST = "bad_request"  # the request line is not a valid request
    LINE_TOO_LONG = "line_too_long"  # the request line exceeds MAX_LINE_BYTES
    FORBIDDEN = "forbidden"  # the peer is not the daemon's own user
    BUSY = "busy"  # too many control connections at once
    INTERNAL = "internal"  # a bug in moshd
    OUT_OF_FDS = "out_of_fds"  # moshd has run out of file descriptors
    NO_SUCH_SESSION = "no_such_session"  # `kill` or `attach` of a session moshd does not have
    SESSION_ENDED = "session_ended"  # `attach` to a session that is ending
    NO_DETACHED_SESSION = "no_detached_session"  # `attach` without an id, nothing detached
    SEVERAL_DETACHED = "several_detached"  # `attach` without an id, more than one detached
    STOPPING = "stopping"  # moshd is shutting down and starts no more sessions
    NO_FREE_PORT = "no_free_port"  # no UDP port free in the requested range
    SPAWN_FAILED = "spawn_failed"  # the session's command could not be started

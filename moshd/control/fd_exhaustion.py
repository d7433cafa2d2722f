"""Recognising that moshd has run out of file descriptors, and the error reply that says so
(and what to do about it) instead of a bare `internal` error."""

from __future__ import annotations

import errno
import resource

from moshd.control.codes import ErrorCode
from moshd.control.errors import ControlError

# The process (EMFILE) or the whole system (ENFILE) is out of file descriptors.
FD_EXHAUSTION_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE})


def fd_soft_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def out_of_fds(error: BaseException) -> ControlError | None:
    """The error reply for `error` if it says moshd ran out of file descriptors, else None."""
    if not isinstance(error, OSError) or error.errno not in FD_EXHAUSTION_ERRNOS:
        return None
    limit = fd_soft_limit()
    return ControlError(
        ErrorCode.OUT_OF_FDS,
        f"moshd has run out of file descriptors ({error.strerror}; its limit is {limit}): "
        "end some sessions, or raise the limit (LimitNOFILE= or ulimit -Hn) and restart moshd",
    )

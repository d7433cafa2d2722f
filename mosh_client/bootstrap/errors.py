"""How a bootstrap fails: the one-line error the `mosh` wrapper prints, and its exit status."""

from __future__ import annotations

import subprocess

EXIT_FAILURE = 255  # what ssh exits with when it fails, and upstream's usual `die` status


class BootstrapError(Exception):
    """The session could not be set up; the message is one line saying what to do."""


def failure_reason(exc: BaseException) -> str:
    """Why starting a program failed, in a few words for an error message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"no answer within {exc.timeout:g} s"
    return str(exc)

"""structlog configuration, in one place: events with fields, never prose with values pasted in.

Renderers: `console` for a human at a terminal (`moshd --foreground`), `json` (one object per
line) otherwise, `journal` under systemd (every field a journal field, see moshd.journal).
Never log keys or keystrokes: only sizes and counts of user input.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TextIO

import structlog

if TYPE_CHECKING:
    from moshd.journal import JournalLogger

LogFormat = Literal["console", "json", "journal"]

_journal: JournalLogger | None = None  # while logging to the journal (reopened on reload)


def configure_logging(
    fmt: LogFormat = "console", level: str = "info", stream: TextIO | None = None
) -> LogFormat:
    """Set up structlog; returns the format in use (`journal` falls back to `json` on
    stderr when journald cannot be reached)."""
    global _journal
    out = stream if stream is not None else sys.stderr
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
    ]
    logger_factory: Any = structlog.PrintLoggerFactory(file=out)
    if _journal is not None:
        _journal.close()
        _journal = None
    if fmt == "journal":
        try:
            from moshd.journal import JournalLogger, JournalLoggerFactory, render_journal

            _journal = JournalLogger(fallback=out)
        except (ImportError, OSError) as exc:
            print(f"moshd: cannot log to journald ({exc}); logging JSON to stderr", file=out)
            fmt = "json"
        else:
            logger_factory = JournalLoggerFactory(_journal)
            processors += [structlog.processors.format_exc_info, render_journal]
    if fmt != "journal":
        processors += [
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.dev.ConsoleRenderer(colors=out.isatty())
            if fmt == "console"
            else structlog.processors.JSONRenderer(),
        ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=logger_factory,
        cache_logger_on_first_use=False,
    )
    return fmt


def reopen_logs() -> None:
    """On reload: a fresh journal connection. (Files are the parent's redirection, not ours
    to reopen; the console needs nothing.)"""
    if _journal is not None:
        # On failure keep the old connection: the transport reconnects by itself when it can.
        with contextlib.suppress(OSError):
            _journal.reopen()


def default_log_format(
    foreground: bool, under_service_manager: bool, env: Mapping[str, str] = os.environ
) -> LogFormat:
    """`console` in the foreground; `journal` when systemd started us (it set NOTIFY_SOCKET or
    passed sockets) or our stderr is its journal stream; else `json`."""
    if foreground:
        return "console"
    if under_service_manager or journal_stream_is_stderr(env):
        return "journal"
    return "json"


def journal_stream_is_stderr(env: Mapping[str, str] = os.environ) -> bool:
    """`$JOURNAL_STREAM` (`DEV:INODE`) names our stderr: it is connected to journald. A
    mismatch means the variable was inherited and stderr has been redirected since."""
    device, _, inode = env.get("JOURNAL_STREAM", "").partition(":")
    if not device.isdigit() or not inode.isdigit():
        return False
    try:
        info = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


def format_peer(addr: object) -> str | None:
    """`ip:port` (IPv6 in brackets) for a socket address; IPv4-mapped IPv6 shown as IPv4."""
    if not isinstance(addr, tuple) or len(addr) < 2:
        return None if addr is None else str(addr)
    host, port = str(addr[0]), addr[1]
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:") :]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

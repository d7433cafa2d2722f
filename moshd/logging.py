"""structlog configuration, in one place: events with fields, never prose with values pasted in.

Renderers: `console` for a human at a terminal (`moshd --foreground`), `json` (one object per
line) otherwise, `journal` under systemd (every field a journal field, see moshd.journal).
Never log keys or keystrokes: only sizes and counts of user input.
"""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

import structlog

if TYPE_CHECKING:
    from moshd.journal import JournalLogger

LogFormat = Literal["console", "json", "journal"]

LOG_FILE_MAX_BYTES = 10 * 1024 * 1024  # rotated at 10 MiB ...
LOG_FILE_BACKUPS = 5  # ... keeping 5 old files: at most 60 MiB in all

_journal: JournalLogger | None = None  # while logging to the journal (reopened on reload)


def configure_logging(
    fmt: LogFormat = "console",
    level: str = "info",
    stream: TextIO | None = None,
    log_file: Path | None = None,
    *,
    max_bytes: int = LOG_FILE_MAX_BYTES,
    backups: int = LOG_FILE_BACKUPS,
) -> LogFormat:
    """Set up structlog; returns the format in use (`journal` falls back to `json` on
    stderr when journald cannot be reached).

    With `log_file`, lines go to that file, which is rotated at `max_bytes` keeping `backups`
    old files (`moshd.log.1` the newest). The daemon rotates it itself: without systemd
    nothing else would (no logrotate rule covers ~/.local/state), so a WatchedFileHandler,
    which only notices someone else's rotation, would let it grow forever."""
    global _journal
    out = stream if stream is not None else sys.stderr
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
    ]
    logger_factory: Any = structlog.PrintLoggerFactory(file=out)
    if log_file is not None and fmt != "journal":
        logger_factory = _rotating_file_logger_factory(log_file, max_bytes, backups)
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
            # journald records _PID itself; a JSON line must say which daemon wrote it (one
            # file outlives restarts, and two daemons with different sockets may share it).
            *([add_daemon_pid] if fmt == "json" else []),
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
    _forward_stdlib_loggers(level)
    return fmt


# Libraries of ours that log through the standard `logging` module because they must not
# depend on structlog (termemu is shared with the client).
STDLIB_LOGGERS = ("termemu",)
# What every LogRecord carries; any other attribute came from `extra=` and is an event field.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _forward_stdlib_loggers(level: str) -> None:
    """Route `STDLIB_LOGGERS` into structlog, so their events land in the daemon's log (file,
    journal or console) like any other; configured again, the handler is replaced, not added."""
    for name in STDLIB_LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, _ToStructlog)]:
            logger.removeHandler(old)
        logger.addHandler(_ToStructlog())
        # The same threshold as structlog's, so records below it are not even built.
        logger.setLevel(level.upper())
        logger.propagate = False


class _ToStructlog(logging.Handler):
    """A standard-library record as a structlog event: the message is the event name, the
    `extra=` attributes its fields, the logger's name its logger."""

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}
        structlog.get_logger(record.name).log(
            record.levelno, record.getMessage(), exc_info=record.exc_info or False, **fields
        )


def add_daemon_pid(
    _logger: Any, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Processor: the pid of the logging process, as `daemon_pid` (many events have a `pid`
    field of their own: the session child's)."""
    event_dict["daemon_pid"] = os.getpid()
    return event_dict


def _rotating_file_logger_factory(path: Path, max_bytes: int, backups: int) -> Any:
    """A structlog logger factory writing each rendered line through a RotatingFileHandler."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = _StderrFollowingHandler(path, max_bytes, backups)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("moshd.log_file")
    for old in logger.handlers:  # configured again (tests): never two handlers on one file
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)  # structlog's filtering bound logger decides what passes
    logger.propagate = False
    return lambda *_args: logger


class _StderrFollowingHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler that keeps our stdout and stderr on the live file, if they
    were writing to that file when it was opened (the detached daemon's are: `mosh-server`
    points them at it). A traceback that bypasses logging then lands where one looks, not in
    a renamed file that a later rotation deletes."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self._stdio_follows = _stderr_is(path)
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")

    def _open(self) -> io.TextIOWrapper:
        stream = super()._open()
        if self._stdio_follows:
            sys.stderr.flush()
            sys.stdout.flush()
            os.dup2(stream.fileno(), 1)
            os.dup2(stream.fileno(), 2)
        return stream


def _stderr_is(path: Path) -> bool:
    try:
        ours, theirs = os.fstat(2), os.stat(path)
    except OSError:
        return False
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


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

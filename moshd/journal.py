"""structlog events to journald, each event field a queryable journal field.

`log.info("session.roamed", old_peer=..., new_peer=...)` in a session bound to `session_id`
becomes an entry with `EVENT=session.roamed`, `SESSION_ID=...`, `OLD_PEER=...`,
`NEW_PEER=...`, `PRIORITY=6`, `SYSLOG_IDENTIFIER=moshd` and a readable `MESSAGE`, so that
`journalctl --user -u moshd EVENT=session.roamed` lists every roam.

The wire side (the native protocol's datagrams on /run/systemd/journal/socket, entries too
big for one datagram handed over as a sealed memfd with SCM_RIGHTS, reconnecting when
journald restarts) is `logging_journald.JournaldTransport`: a small, maintained, typed,
pure-Python wheel. What is ours is the mapping from structlog's event dict to fields.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import sys
from pathlib import Path
from typing import Any, TextIO

from logging_journald import JournaldTransport
from structlog.typing import EventDict, WrappedLogger

SYSLOG_IDENTIFIER = "moshd"
JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
SEND_TIMEOUT = 0.25  # a stalled journald may cost a log entry, never a frozen daemon

# syslog(3) levels, as journald's PRIORITY= field wants them
PRIORITIES = {
    "critical": 2,
    "exception": 3,
    "error": 3,
    "warning": 4,
    "warn": 4,
    "info": 6,
    "debug": 7,
}
DEFAULT_PRIORITY = 6

Fields = list[tuple[str, str]]

_OWN_FIELDS = frozenset({"MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "EVENT"})
# journald stamps every entry itself; the level travels as PRIORITY
_DROPPED_KEYS = frozenset({"timestamp", "level"})
_INVALID_CHARS = re.compile(r"[^A-Z0-9_]")
_MAX_FIELD_NAME = 64  # journald drops fields with longer names


def field_name(key: str) -> str:
    """A valid journal field name for an event key: upper case, only A-Z 0-9 _, not starting
    with "_" (those are journald's trusted fields) or a digit, at most 64 characters. A key
    that would overwrite one of the fields set here gets a `FIELD_` prefix instead."""
    name = _INVALID_CHARS.sub("_", key.upper()).lstrip("_")
    if not name or name[0].isdigit():
        name = "FIELD_" + name
    if name in _OWN_FIELDS:
        name = "FIELD_" + name
    return name[:_MAX_FIELD_NAME]


def field_value(value: Any) -> str:
    """Text for a field value: JSON for containers and booleans, str() for everything else."""
    if isinstance(value, bool | list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def journal_fields(_logger: WrappedLogger, method_name: str, event_dict: EventDict) -> Fields:
    """The event as (FIELD, value) pairs, in the order they are sent."""
    event = str(event_dict.pop("event", ""))
    level = str(event_dict.get("level", method_name))
    exception = event_dict.pop("exception", None)
    kept = {
        key: value
        for key, value in event_dict.items()
        if key not in _DROPPED_KEYS and value is not None
    }
    # MESSAGE is what `journalctl` shows: the event and its fields, logfmt style
    message = " ".join([event, *(_readable(key, value) for key, value in kept.items())])
    if exception:
        message += "\n" + str(exception).rstrip("\n")
    return [
        ("MESSAGE", message),
        ("PRIORITY", str(PRIORITIES.get(level, DEFAULT_PRIORITY))),
        ("SYSLOG_IDENTIFIER", SYSLOG_IDENTIFIER),
        ("EVENT", event),
        *((field_name(key), field_value(value)) for key, value in kept.items()),
    ]


def render_journal(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> tuple[tuple[Fields], dict[str, Any]]:
    """structlog's last processor: hands the field list to `JournalLogger.msg`."""
    return (journal_fields(logger, method_name, event_dict),), {}


class _Transport(JournaldTransport):  # type: ignore[misc]  # the module ships no py.typed
    # The protocol's value length is 64-bit little-endian; the library packs it in native
    # byte order, which differs on big-endian machines (s390x).
    VALUE_LEN_STRUCT = struct.Struct("<Q")

    def _open(self) -> socket.socket:
        # Every socket it opens, the first and those after journald restarts, is bounded.
        sock: socket.socket = super()._open()
        sock.settimeout(SEND_TIMEOUT)
        return sock


class JournalLogger:
    """The structlog logger: sends each entry to journald, or, if that fails, a JSON line to
    stderr (which a service manager usually hands to the journal all the same)."""

    def __init__(self, socket_path: Path | None = None, fallback: TextIO | None = None) -> None:
        self.socket_path = socket_path if socket_path is not None else JOURNAL_SOCKET
        self.fallback = fallback
        self._transport = self._connect()

    def _connect(self) -> JournaldTransport:
        return _Transport(socket_path=self.socket_path)

    def reopen(self) -> None:
        """A fresh connection (on reload: journald may have been restarted meanwhile)."""
        fresh = self._connect()
        old, self._transport = self._transport, fresh
        old.socket.close()

    def close(self) -> None:
        self._transport.socket.close()

    def msg(self, fields: Fields) -> None:
        try:
            self._transport.send(fields)
        except OSError as exc:
            out = self.fallback if self.fallback is not None else sys.stderr
            entry = dict(fields) | {"journal_error": exc.strerror or type(exc).__name__}
            print(json.dumps(entry, ensure_ascii=False), file=out, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class JournalLoggerFactory:
    """One connection for every logger structlog asks for."""

    def __init__(self, logger: JournalLogger) -> None:
        self.logger = logger

    def __call__(self, *args: Any) -> JournalLogger:
        return self.logger


def _readable(key: str, value: Any) -> str:
    text = field_value(value)
    # JSON containers are self-delimiting; a bare word needs no quotes; anything else does
    if not isinstance(value, list | tuple | dict) and (
        not text or any(char.isspace() or char in '"=' for char in text)
    ):
        text = json.dumps(text, ensure_ascii=False)
    return f"{key}={text}"

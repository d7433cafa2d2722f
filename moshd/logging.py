"""structlog configuration, in one place: events with fields, never prose with values pasted in.

Renderers: `console` for a human at a terminal (`moshd --foreground`), `json` (one object per
line) otherwise. Never log keys or keystrokes: only sizes and counts of user input.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

LogFormat = Literal["console", "json"]


def configure_logging(
    fmt: LogFormat = "console", level: str = "info", stream: TextIO | None = None
) -> None:
    out = stream if stream is not None else sys.stderr
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def format_peer(addr: object) -> str | None:
    """`ip:port` (IPv6 in brackets) for a socket address; IPv4-mapped IPv6 shown as IPv4."""
    if not isinstance(addr, tuple) or len(addr) < 2:
        return None if addr is None else str(addr)
    host, port = str(addr[0]), addr[1]
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:") :]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

"""moshd.logging forwards termemu's standard-library log records into the daemon's log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from moshd.logging import configure_logging
from termemu.emulator import Emulator


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    saved = structlog.get_config()
    termemu_logger = logging.getLogger("termemu")
    handlers = list(termemu_logger.handlers)
    yield
    structlog.configure(**saved)
    termemu_logger.handlers[:] = handlers
    termemu_logger.setLevel(logging.NOTSET)
    termemu_logger.propagate = True


def _explode(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("injected emulator fault")


def _events(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_emulator_events_reach_the_log_with_their_fields() -> None:
    out = io.StringIO()
    configure_logging("json", "debug", out)
    emulator = Emulator(10, 2)
    emulator.screen.draw = _explode  # type: ignore[method-assign]
    emulator.feed(b"x")
    emulator.screen.resize = _explode  # type: ignore[method-assign]
    emulator.resize(20, 4)
    dispatch, resize = _events(out)
    assert dispatch["event"] == "emulator.dispatch_failed"
    assert dispatch["level"] == "debug"
    assert dispatch["at"] == "'x'"
    assert "injected emulator fault" in str(dispatch["exception"])
    assert (resize["event"], resize["level"]) == ("emulator.resize_failed", "warning")


def test_the_daemon_level_applies_and_configuring_again_adds_no_second_handler() -> None:
    out = io.StringIO()
    configure_logging("json", "debug", io.StringIO())
    configure_logging("json", "info", out)
    emulator = Emulator(10, 2)
    emulator.screen.draw = _explode  # type: ignore[method-assign]
    emulator.feed(b"x")  # a debug event: below the threshold
    emulator.screen.resize = _explode  # type: ignore[method-assign]
    emulator.resize(20, 4)
    assert [event["event"] for event in _events(out)] == ["emulator.resize_failed"]

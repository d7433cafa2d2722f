from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import trio

from moshd.daemon import Daemon, DaemonConfig
from moshd.ports import PortRange
from ssp.timing import UPSTREAM_TIMERS, Timers

StartDaemon = Callable[[Timers], Awaitable[Daemon]]


@pytest.fixture
async def start_daemon(nursery: trio.Nursery) -> AsyncIterator[StartDaemon]:
    """Starts an in-process daemon whose sessions use the given protocol timers: a test that
    would otherwise wait out upstream's seconds passes short ones."""
    started: list[Daemon] = []
    with tempfile.TemporaryDirectory(prefix="moshd-test-") as tmp:

        async def start(timers: Timers) -> Daemon:
            config = DaemonConfig(
                control_path=Path(tmp) / f"control{len(started)}.sock",
                bind_ip="127.0.0.1",
                ports=PortRange(61000, 61999),
                stop_grace=0.3,  # clients of finished tests are gone: no goodbyes to wait for
                timers=timers,
            )
            instance = Daemon(config)
            await nursery.start(instance.run)
            started.append(instance)
            return instance

        yield start
        for instance in started:
            instance.stop()
        with trio.fail_after(10):
            while any(instance.sessions for instance in started):
                await trio.sleep(0.01)


@pytest.fixture
async def daemon(start_daemon: StartDaemon) -> Daemon:
    return await start_daemon(UPSTREAM_TIMERS)

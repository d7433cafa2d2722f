from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from moshd.daemon import Daemon, DaemonConfig
from moshd.ports import PortRange


@pytest.fixture
async def daemon(nursery: trio.Nursery) -> AsyncIterator[Daemon]:
    with tempfile.TemporaryDirectory(prefix="moshd-test-") as tmp:
        config = DaemonConfig(
            control_path=Path(tmp) / "control.sock",
            bind_ip="127.0.0.1",
            ports=PortRange(61000, 61999),
            stop_grace=0.3,  # clients of finished tests are gone: no goodbyes to wait for
        )
        instance = Daemon(config)
        await nursery.start(instance.run)
        yield instance
        instance.stop()
        with trio.fail_after(10):
            while instance.sessions:
                await trio.sleep(0.01)

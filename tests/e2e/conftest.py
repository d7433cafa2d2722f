from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from .harness import RealDaemon, Tmux

pytestmark = pytest.mark.e2e


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (the README's test command installs it)")
    pane = Tmux()
    yield pane
    pane.kill()


@pytest.fixture
def real_daemon() -> Iterator[RealDaemon]:
    daemon = RealDaemon()
    daemon.start()
    yield daemon
    daemon.stop()

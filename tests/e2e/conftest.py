from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport.harness import RealDaemon, Tmux
from testsupport.sshd import Sshd


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder `e2e` (a `pytestmark` in a conftest has no effect), so
    that `pytest -m "not e2e"` leaves out the real processes."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


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


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    """A real sshd on loopback for the `mosh` wrapper (testsupport.sshd), one per module."""
    server = Sshd()
    server.start()
    yield server
    server.stop()

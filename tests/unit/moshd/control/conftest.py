"""Fixtures shared by the tests of moshd.control."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def socket_path(tmp_path: Path) -> Iterator[Path]:
    """A control socket path in a directory of its own, removed afterwards.

    Short: tmp_path can be long, and a Unix socket address is at most 107 bytes."""
    directory = Path(f"/tmp/moshd-test-{os.getpid()}-{tmp_path.name[-20:]}")
    yield directory / "control.sock"
    if directory.is_symlink():
        directory.unlink()
    elif directory.exists():
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()

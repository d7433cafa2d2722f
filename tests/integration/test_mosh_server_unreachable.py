"""`mosh-server list|kill|status` with no daemon running: the exact line, said once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("args", [("list",), ("kill", "1a2b3c4d"), ("status",)])
def test_no_daemon_is_reported_once_in_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), XDG_STATE_HOME=str(tmp_path / "state"))
    result = subprocess.run(
        [str(BIN / "mosh-server"), *args], env=env, capture_output=True, text=True, timeout=30
    )
    control = runtime / "moshd" / "control.sock"
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"mosh-server: moshd is not running (no control socket at {control})\n"
    assert not control.parent.exists()  # list, kill and status never start a daemon

"""End to end under a real, confined `systemd --user` and journald (with-user-systemd.sh):
the units installed as a user would, socket activation, two sessions, a roam found in the
journal by its fields, a reload and a clean stop. The scenario itself is
user_systemd_scenario.py; this runs it and shows its output when it fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import APT_HINT, REPO, require

WRAPPER = Path(__file__).with_name("with-user-systemd.sh")
TIMEOUT = 90  # the scenario bounds itself at 60 s; set-up and teardown take a few more


def test_moshd_as_a_user_service_end_to_end() -> None:
    require("systemctl", "journalctl", "unshare", "setpriv")
    for path in ("/lib/systemd/systemd", "/lib/systemd/systemd-journald"):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: {APT_HINT}")
    if os.getuid() != 0:
        pytest.fail("with-user-systemd.sh needs root (the test suite runs as root)")
    process = subprocess.Popen(
        ["bash", str(WRAPPER), sys.executable, "-m", "tests.systemd.user_systemd_scenario"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGTERM first: the wrapper then stops the scenario and tears down its manager
        # and journald before checking the host state; SIGKILL only if that hangs too.
        process.terminate()
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        pytest.fail(f"timed out after {TIMEOUT} s:\n{stdout}\n{stderr}")
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode != 121, "with-user-systemd.sh: HOST STATE CHANGED\n" + output
    assert result.returncode != 120, "with-user-systemd.sh could not set up\n" + output
    assert result.returncode == 0, output
    assert "all good" in result.stdout, output

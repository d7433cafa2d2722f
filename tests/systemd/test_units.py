"""The unit files: systemd's own checker accepts them, and they say what we promise."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .helpers import REPO, UNITS, install_units, require

MAN_PAGES = REPO / "packaging" / "man"


def _settings(unit: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_systemd_analyze_verify_accepts_the_units() -> None:
    require("systemd-analyze")
    with tempfile.TemporaryDirectory(prefix="moshd-units-") as tmp:
        runtime = Path(tmp) / "run"
        runtime.mkdir(mode=0o700)
        units = Path(tmp) / "units"
        install_units(units)  # ExecStart: this venv's moshd (verify wants it to exist)
        # verify also runs `man` on every Documentation=: give it the pages we ship
        manpath = Path(tmp) / "man"
        for page in MAN_PAGES.glob("*.[0-9]"):
            section = manpath / f"man{page.suffix[1:]}"
            section.mkdir(parents=True, exist_ok=True)
            shutil.copy(page, section)
        result = subprocess.run(
            [
                "systemd-analyze",
                "verify",
                "--user",
                "--man=yes" if manpath.exists() and shutil.which("man") else "--man=no",
                str(units / "moshd.service"),
                str(units / "moshd.socket"),
            ],
            env={
                **os.environ,
                "XDG_RUNTIME_DIR": str(runtime),
                "MANPATH": str(manpath),
                "SYSTEMD_LOG_LEVEL": "notice",
            },
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "moshd" not in result.stderr, result.stderr  # no warnings about our units either


def test_the_service_promises() -> None:
    service = _settings(UNITS / "moshd.service")
    assert service["Type"] == ["notify"]
    assert service["ExecStart"] == ["/usr/bin/moshd"]
    assert service["KillMode"] == ["process"]
    assert "HUP" in service["ExecReload"][0]
    # nothing that would break the users' shells (sudo, $HOME, a shared /tmp)
    for setting in ("NoNewPrivileges", "ProtectHome", "ProtectSystem", "PrivateTmp", "User"):
        assert setting not in service, setting


def test_the_socket_is_the_private_control_socket_only() -> None:
    socket_unit = _settings(UNITS / "moshd.socket")
    assert socket_unit["ListenStream"] == ["%t/moshd/control.sock"]
    assert socket_unit["SocketMode"] == ["0600"]
    assert socket_unit["DirectoryMode"] == ["0700"]
    assert socket_unit["FileDescriptorName"] == ["control"]
    assert "ListenDatagram" not in socket_unit

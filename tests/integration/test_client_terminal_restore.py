"""The client restores the terminal on every exit path, a crash included."""

from __future__ import annotations

import os
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

CRASHING_CLIENT = """
import trio
import mosh_client.display as display
from mosh_client.app import ClientApp
from mosh_client.client_args import ClientConfig
from ssp.crypto import Key

def explode(self, frame):
    raise RuntimeError("forced failure in the render task")

display.Display.draw = explode
config = ClientConfig(host="127.0.0.1", port=9, key=Key.generate())

async def main():
    await ClientApp(config).run()

trio.run(main)
"""


def _read_all(fd: int, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    os.set_blocking(fd, False)
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.02)
            continue
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    return out


@pytest.mark.parametrize("alternate_screen", [True])
def test_a_crash_restores_termios_modes_and_screen(alternate_screen: bool) -> None:
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        process = subprocess.Popen(
            [sys.executable, "-c", CRASHING_CLIENT],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        status = process.wait(timeout=30)
        output = _read_all(master, 2.0)
        assert status != 0  # it really crashed
        assert b"forced failure in the render task" in output
        assert termios.tcgetattr(slave) == before  # cooked mode is back, exactly
        entered = output.index(b"\x1b[22;0t")  # Display.open: the title pushed
        if alternate_screen and b"\x1b[?1049h" in output:
            assert output.index(b"\x1b[?1049l") > output.index(b"\x1b[?1049h")  # left it
        else:  # moshd's scrollback keeps the session on the main screen (mosh_client.display)
            assert b"\x1b[?1049" not in output
        assert output.rfind(b"\x1b[?25h") > entered  # cursor visible again
        assert output.rfind(b"\x1b[?7h") > entered  # autowrap back on
    finally:
        os.close(master)
        os.close(slave)

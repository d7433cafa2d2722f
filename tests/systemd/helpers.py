"""Shared by the systemd tests: the units with a test ExecStart, a notify socket to listen on,
and a hard failure (not a skip) when a systemd tool is missing."""

from __future__ import annotations

import re
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "systemd"
BIN = Path(sys.executable).parent
MOSHD = BIN / "moshd"
MOSH_SERVER = BIN / "mosh-server"
CONNECT = re.compile(r"MOSH CONNECT (\d+) ([A-Za-z0-9+/]{43})")
APT_HINT = "apt-get install systemd dbus-user-session (the README's test command installs them)"


def require(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: {APT_HINT}")


def install_units(dest: Path, environment: dict[str, str] | None = None, **service: str) -> None:
    """Copy moshd.service and moshd.socket into `dest`, ExecStart pointing at this venv's
    moshd, with `Environment=` and any other [Service] settings replaced or added."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(UNITS / "moshd.socket", dest / "moshd.socket")
    settings = {"ExecStart": str(MOSHD), **service}
    lines = []
    for line in (UNITS / "moshd.service").read_text().splitlines():
        key = line.partition("=")[0]
        if key in settings:
            line = f"{key}={settings.pop(key)}"
        lines.append(line)
        if line == "[Service]":
            lines += [f"Environment={name}={value}" for name, value in (environment or {}).items()]
            lines += [f"{key}={value}" for key, value in settings.items() if key != "ExecStart"]
    (dest / "moshd.service").write_text("\n".join(lines) + "\n")


class NotifyListener:
    """The service manager's end of sd_notify: a datagram socket whose messages a background
    task keeps reading, as the manager does (an unread queue would make moshd's sends fail)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.messages: list[dict[str, str]] = []
        self._arrived = trio.Event()

    async def _read(self) -> None:
        while True:
            data = await self.sock.recv(4096)
            lines = data.decode().splitlines()
            self.messages.append(dict(line.partition("=")[::2] for line in lines if line))
            self._arrived.set()
            self._arrived = trio.Event()

    async def wait_for(
        self, key: str, value: str | None = None, timeout: float = 10.0
    ) -> dict[str, str]:
        """The first message, received already or later, that sets `key` (to `value`)."""
        with trio.move_on_after(timeout):
            while True:
                for message in self.messages:
                    if key in message and (value is None or message[key] == value):
                        return message
                await self._arrived.wait()
        raise AssertionError(
            f"no {key}={value or '*'} notification in {timeout} s: {self.messages}"
        )


@asynccontextmanager
async def notify_listener(path: Path) -> AsyncIterator[NotifyListener]:
    listener = NotifyListener(path)
    await listener.sock.bind(str(path))
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(listener._read)
            yield listener
            nursery.cancel_scope.cancel()
    finally:
        listener.sock.close()

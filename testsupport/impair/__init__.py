"""User-space UDP impairment proxy for loopback tests and benchmarks.

In-process (trio)::

    async with open_proxy(server=("127.0.0.1", port), seed=1) as proxy:
        proxy.up.loss = 0.29
        await proxy.new_source_port()

As a subprocess, for plain sync tests (the client may run inside tmux)::

    with ProxyProcess(server=("127.0.0.1", port), up={"delay": 0.125}) as proxy:
        proxy.set("both", loss=0.1)
        print(proxy.address, proxy.stats())
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from testsupport.impair.proxy import (
    Address,
    DirectionStats,
    Impairment,
    ImpairmentProxy,
    ProxyStats,
    check_loopback,
    check_loopback_address,
    format_hostport,
    open_proxy,
    parse_hostport,
)

__all__ = [
    "Address",
    "DirectionStats",
    "Impairment",
    "ImpairmentProxy",
    "ProxyCommandError",
    "ProxyProcess",
    "ProxyStats",
    "check_loopback",
    "check_loopback_address",
    "open_proxy",
]

REPO_ROOT = Path(__file__).resolve().parents[2]


class ProxyCommandError(RuntimeError):
    """The proxy process answered a control command with ``{"ok": false}``."""


class ProxyProcess:
    """Sync handle on ``python -m testsupport.impair`` running as a child process.

    `up`, `down` and `both` map Impairment field names to start-up values, e.g.
    ``up={"delay": 0.125, "loss": 0.29}``.
    """

    def __init__(
        self,
        server: tuple[str, int],
        *,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        seed: int | str | None = None,
        up: Mapping[str, float | None] | None = None,
        down: Mapping[str, float | None] | None = None,
        both: Mapping[str, float | None] | None = None,
        retire_after: float = 1.0,
        max_lifetime: float | None = None,
        start_timeout: float = 10.0,
        command_timeout: float = 5.0,
    ) -> None:
        # Check here too, so a bad address fails in the test, not in a child's stderr.
        self.server = check_loopback_address(server)
        self.listen = check_loopback_address(listen)
        self._options = _impairment_flags(up, "-up") + _impairment_flags(down, "-down")
        self._options += _impairment_flags(both, "")
        if seed is not None:
            self._options += ["--seed", str(seed)]
        if max_lifetime is not None:
            self._options += ["--max-lifetime", str(max_lifetime)]
        self._options += ["--retire-after", str(retire_after)]
        self.start_timeout = start_timeout
        self.command_timeout = command_timeout
        self._tmpdir: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._replies = b""
        self.address: Address = ("", 0)

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> ProxyProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        # Short path: Unix socket paths are limited to ~108 bytes.
        self._tmpdir = tempfile.mkdtemp(prefix="impair-")
        control_path = os.path.join(self._tmpdir, "control.sock")
        argv = [
            sys.executable,
            "-m",
            "testsupport.impair",
            "--listen",
            format_hostport(self.listen),
            "--server",
            format_hostport(self.server),
            "--control",
            control_path,
            "--parent-pid",
            str(os.getpid()),
            *self._options,
        ]
        self._process = subprocess.Popen(
            argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        try:
            self.address = parse_hostport(self._await_listening())
            self._control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._control.settimeout(self.command_timeout)
            self._control.connect(control_path)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            self._stop_process(self._process)
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def _await_listening(self) -> str:
        """Read stdout until the ``LISTENING host:port`` line, within start_timeout."""
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        deadline = time.monotonic() + self.start_timeout
        output = b""
        while b"\n" not in output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"impairment proxy did not start: {output!r}")
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = self._process.wait()
                    raise RuntimeError(f"impairment proxy exited with {code}: {output!r}")
                output += chunk
        line = output.split(b"\n", 1)[0].decode()
        word, _, address = line.partition(" ")
        if word != "LISTENING":
            raise RuntimeError(f"unexpected output from impairment proxy: {line!r}")
        return address

    def _stop_process(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    # -- control commands --------------------------------------------------

    def command(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """Send one JSON command and return the answer; raise if it is not ok."""
        if self._control is None:
            raise RuntimeError("proxy process not running")
        self._control.sendall(json.dumps({"cmd": cmd, **fields}).encode() + b"\n")
        while b"\n" not in self._replies:
            chunk = self._control.recv(65536)
            if not chunk:
                raise ConnectionError("impairment proxy closed its control socket")
            self._replies += chunk
        line, self._replies = self._replies.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise ProxyCommandError(reply.get("error", reply))
        return reply

    def set(self, direction: str, **fields: Any) -> dict[str, Any]:
        """Change impairments: direction is "up", "down" or "both"."""
        return self.command("set", direction=direction, **fields)

    def blackout(self, on: bool = True) -> dict[str, Any]:
        return self.command("blackout", on=on)

    def new_source_port(self) -> Address:
        return _address(self.command("new_source_port")["source"])

    def new_source_address(self, ip: str) -> Address:
        return _address(self.command("new_source_address", address=check_loopback(ip))["source"])

    def stats(self) -> dict[str, Any]:
        """Counters as nested dicts: ``stats()["up"]["dropped_loss"]``, …"""
        stats: dict[str, Any] = self.command("stats")["stats"]
        return stats


def _impairment_flags(fields: Mapping[str, float | None] | None, suffix: str) -> list[str]:
    flags: list[str] = []
    for name, value in (fields or {}).items():
        if name not in Impairment.__dataclass_fields__ or name == "blackout":
            raise ValueError(f"not a start-up impairment setting: {name!r}")
        if value is None:
            continue  # the default (e.g. rate=None: unlimited)
        flags += [f"--{name.replace('_', '-')}{suffix}", str(value)]
    return flags


def _address(value: Sequence[Any]) -> Address:
    return (str(value[0]), int(value[1]))

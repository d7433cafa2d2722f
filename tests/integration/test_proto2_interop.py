"""Our protocol-2 endpoint against the real upstream mosh-server, over loopback UDP.

A stock `mosh-server new` runs `/bin/sh` with terminal echo off, printing `hello` and then
running `cat`; our client `Endpoint` (wire=Proto2Wire) talks to it through a blocking UDP
socket on 127.0.0.1. This proves the wire (key, OCB3, nonces, timestamps, fragments, zlib,
protobuf instructions, user and host messages, shutdown) against the real thing.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ssp.lifecycle import Closed, Ending
from ssp.proto2.key import Proto2Key, parse_connect_key
from ssp.proto2.messages import WindowSize
from ssp.proto2.userstream import Proto2UserStream
from ssp.proto2.wire import Proto2Wire
from ssp.transport import Endpoint, Event
from tests.unit.ssp.proto2.hostlog import HostLog  # records every HostMessage item
from testsupport.processes import alive

MOSH_SERVER = Path("/usr/bin/mosh-server")
LOOPBACK = "127.0.0.1"
# `stty -echo`: whatever comes back after a keystroke is cat's doing, not the terminal's echo.
SHELL = ["/bin/sh", "-c", "stty -echo; echo hello; exec cat"]
CONNECT = re.compile(r"^MOSH CONNECT (\d+?) ([A-Za-z0-9/+]{22})\s*$", re.MULTILINE)  # stock's
DETACHED = re.compile(r"mosh-server detached, pid = (\d+)")

pytestmark = [
    pytest.mark.skipif(not MOSH_SERVER.exists(), reason="upstream mosh-server not installed"),
    pytest.mark.timeout(60),
]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _start_mosh_server() -> tuple[int, Proto2Key, int]:
    """(port, key, pid of the detached server). Retries if the port was taken meanwhile."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    env["HOME"] = os.environ.get("HOME", "/tmp")
    for _ in range(5):
        port = _free_udp_port()
        result = subprocess.run(
            [str(MOSH_SERVER), "new", "-i", LOOPBACK, "-p", str(port), "--", *SHELL],
            capture_output=True,
            text=True,
            env=env,
            timeout=20,
            check=False,
        )
        connect = CONNECT.search(result.stdout)
        detached = DETACHED.search(result.stderr)
        if connect and detached:
            key = parse_connect_key(connect.group(2))
            assert isinstance(key, Proto2Key)
            return int(connect.group(1)), key, int(detached.group(1))
        if detached and alive(int(detached.group(1))):  # half started: leave nothing behind
            os.kill(int(detached.group(1)), signal.SIGTERM)
    raise AssertionError(f"mosh-server did not start: {result.stdout!r} {result.stderr!r}")


class Client:
    """Our Endpoint driven by a blocking socket and the monotonic clock."""

    def __init__(self, port: int, key: Proto2Key) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.server = (LOOPBACK, port)
        self.endpoint: Endpoint[Proto2UserStream, HostLog] = Endpoint(
            key,
            "client",
            Proto2UserStream(),
            HostLog(),
            time.monotonic(),
            peer=self.server,
            wire=Proto2Wire,
        )
        self.events: list[Event] = []

    def send_due(self) -> int:
        sent = 0
        for data, addr in self.endpoint.datagrams_to_send(time.monotonic()):
            assert addr == self.server  # only ever the loopback server
            self.sock.sendto(data, addr)
            sent += 1
        self.events += self.endpoint.take_events()
        return sent

    def run_until(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        give_up = time.monotonic() + timeout
        while not done():
            now = time.monotonic()
            assert now < give_up, f"timed out; drops {self.endpoint.drops}"
            self.send_due()
            if done():
                return
            wait = min(self.endpoint.next_deadline(), give_up) - time.monotonic()
            self.sock.settimeout(min(max(wait, 0.001), 0.05))
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            self.events += self.endpoint.receive_datagram(data, addr, time.monotonic())

    def type(self, keys: bytes) -> int:
        """Send keystrokes; the number of the state that carries them."""
        stream = self.endpoint.local_state
        stream.push_keystroke(keys)
        self.endpoint.local_state_changed(time.monotonic())
        # The first datagram after a change carries the new state (see Sender.tick).
        self.run_until(lambda: self.send_due() > 0)
        return self.endpoint.last_sent_num

    def resize(self, width: int, height: int) -> None:
        self.endpoint.local_state.push_resize(width, height)
        self.endpoint.local_state_changed(time.monotonic())

    @property
    def host(self) -> HostLog:
        return self.endpoint.remote_state


@pytest.fixture
def mosh_server() -> Iterator[tuple[int, Proto2Key, int]]:
    port, key, pid = _start_mosh_server()
    try:
        yield port, key, pid
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGTERM)


def test_a_stock_mosh_server_speaks_with_our_protocol_2_endpoint(
    mosh_server: tuple[int, Proto2Key, int],
) -> None:
    port, key, pid = mosh_server
    client = Client(port, key)
    try:
        # A stock client's first words: its window size.
        client.resize(80, 24)
        client.run_until(lambda: b"hello" in client.host.screen_bytes)

        keystroke_num = client.type(b"xyzzy\r")
        # cat echoes the line (the terminal does not: stty -echo).
        client.run_until(lambda: b"xyzzy" in client.host.screen_bytes)
        client.run_until(lambda: client.host.echo_ack >= keystroke_num)

        client.resize(100, 30)
        client.run_until(lambda: WindowSize(100, 30) in client.host.sizes)

        client.endpoint.start_shutdown(time.monotonic())
        client.run_until(lambda: any(isinstance(e, Closed) for e in client.events))
        assert [e for e in client.events if isinstance(e, Closed)] == [Closed(Ending.ACKNOWLEDGED)]
        assert client.endpoint.drops.unauthentic == client.endpoint.drops.malformed == 0

        give_up = time.monotonic() + 10
        while alive(pid):  # the server ends once it has acknowledged our goodbye
            assert time.monotonic() < give_up, "mosh-server did not exit"
            time.sleep(0.05)
    finally:
        client.sock.close()

"""Our client's network task (`mosh_client.network.ClientNetwork`) against a stock mosh-server.

Given a 22-character key the client speaks protocol 2: its endpoint keeps a `Proto2Screen`
(the server's escape sequences applied to our emulator). Here it types, resizes, roams and
shuts down against `/usr/bin/mosh-server new`, on loopback, through the impairment proxy.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import trio

from mosh_client.network import ClientNetwork
from mosh_client.proto2_screen import Proto2Screen
from ssp.lifecycle import Closed, Ending
from ssp.proto2.key import Proto2Key, parse_connect_key
from ssp.timing import UPSTREAM_TIMERS
from ssp.transport import Event
from testsupport.impair import open_proxy
from testsupport.processes import alive

MOSH_SERVER = Path("/usr/bin/mosh-server")
LOOPBACK = "127.0.0.1"
CONNECT = re.compile(r"^MOSH CONNECT (\d+) ([A-Za-z0-9/+]{22})\s*$", re.MULTILINE)
DETACHED = re.compile(r"mosh-server detached, pid = (\d+)")

pytestmark = [
    pytest.mark.skipif(not MOSH_SERVER.exists(), reason="upstream mosh-server not installed"),
    pytest.mark.timeout(90),
    pytest.mark.trio,
]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def stock_server() -> Iterator[tuple[int, Proto2Key, int]]:
    """(port, key, pid) of a stock `mosh-server new` running /bin/sh with a `$ ` prompt."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PS1": "$ ",
    }
    for _ in range(5):
        port = _free_udp_port()
        result = subprocess.run(
            [str(MOSH_SERVER), "new", "-i", LOOPBACK, "-p", str(port), "--", "/bin/sh"],
            capture_output=True,
            text=True,
            env=env,
            timeout=20,
            check=False,
        )
        connect, detached = CONNECT.search(result.stdout), DETACHED.search(result.stderr)
        if connect and detached:
            key = parse_connect_key(connect.group(2))
            assert isinstance(key, Proto2Key)
            pid = int(detached.group(1))
            try:
                yield int(connect.group(1)), key, pid
            finally:
                if alive(pid):
                    os.kill(pid, signal.SIGTERM)
            return
    raise AssertionError("mosh-server did not start")


class Client:
    """A `ClientNetwork` and what the app would do with it: type and resize."""

    def __init__(self, address: tuple[str, int], key: Proto2Key, size: tuple[int, int]) -> None:
        self.events: list[Event] = []
        self.changed = trio.Event()
        self.network = ClientNetwork(
            key,
            *address,
            self._on_events,
            timers=replace(UPSTREAM_TIMERS, port_hop_interval=2.0),
            size=size,
        )
        self.resize(*size)  # the app's first words, as a stock client's

    def _on_events(self, events: list[Event]) -> None:
        self.events += events
        self.changed.set()

    @property
    def screen(self) -> Proto2Screen:
        screen = self.network.endpoint.remote_state
        assert isinstance(screen, Proto2Screen)
        return screen

    def text(self) -> str:
        return "\n".join(self.screen.text_lines())

    def type(self, data: bytes) -> int:
        endpoint = self.network.endpoint
        stream = endpoint.local_state.copy()
        stream.push_keystroke(data)
        endpoint.set_local_state(stream, trio.current_time())
        self.network.wake()
        return endpoint.last_sent_num + 1

    def resize(self, width: int, height: int) -> None:
        endpoint = self.network.endpoint
        stream = endpoint.local_state.copy()
        stream.push_resize(width, height)
        endpoint.set_local_state(stream, trio.current_time())
        self.network.wake()

    async def wait(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        with trio.fail_after(timeout):
            while not done():
                await trio.sleep(0.02)


async def test_our_client_network_runs_a_stock_mosh_server_session(
    stock_server: tuple[int, Proto2Key, int],
) -> None:
    port, key, pid = stock_server
    async with open_proxy((LOOPBACK, port), seed=3) as proxy:
        client = Client(proxy.address, key, (100, 30))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.network.run)
            await client.wait(lambda: "$" in client.text())
            assert (client.screen.width, client.screen.height) == (100, 30)

            # A line typed and run: the shell's output is on our screen.
            num = client.type(b"echo typed-$((6*7))\r")
            await client.wait(lambda: "typed-42" in client.text())
            await client.wait(lambda: client.screen.echo_ack >= num)  # the server's echo ack

            # A resize reaches the program, and the server's screen follows it.
            client.resize(90, 20)
            client.type(b"stty size\r")
            await client.wait(lambda: "20 90" in client.text())
            assert (client.screen.width, client.screen.height) == (90, 20)

            # Roaming: the server follows our new source address...
            await proxy.new_source_port()
            client.type(b"echo roamed-$((1+1))\r")
            await client.wait(lambda: "roamed-2" in client.text())
            # ... and we hop ports ourselves after a blackout.
            first = proxy.client_address
            proxy.blackout(True)
            await trio.sleep(3.0)
            proxy.blackout(False)
            client.type(b"echo hopped-$((2+3))\r")
            await client.wait(lambda: "hopped-5" in client.text(), timeout=15)
            assert proxy.client_address != first

            # The shell exits: the server says goodbye and we acknowledge it.
            client.type(b"exit\r")
            await client.wait(lambda: any(isinstance(e, Closed) for e in client.events))
            assert [e for e in client.events if isinstance(e, Closed)] == [
                Closed(Ending.PEER_CLOSED)
            ]
            nursery.cancel_scope.cancel()
        drops = client.network.endpoint.drops
        assert drops.unauthentic == drops.malformed == 0
    with trio.fail_after(10):
        while alive(pid):
            await trio.sleep(0.05)


async def test_our_goodbye_ends_a_stock_server(stock_server: tuple[int, Proto2Key, int]) -> None:
    port, key, pid = stock_server
    client = Client((LOOPBACK, port), key, (80, 24))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.network.run)
        await client.wait(lambda: "$" in client.text())
        client.network.endpoint.start_shutdown(trio.current_time())
        client.network.wake()
        await client.wait(lambda: any(isinstance(e, Closed) for e in client.events))
        assert [e for e in client.events if isinstance(e, Closed)] == [Closed(Ending.ACKNOWLEDGED)]
        nursery.cancel_scope.cancel()
    with trio.fail_after(10):
        while alive(pid):
            await trio.sleep(0.05)

"""A scripted SSP client for integration tests: the sans-IO endpoint on a real UDP socket.

It types, resizes and watches the screen the way mosh-client does, without a terminal. Given
a 22-character key it speaks upstream's protocol 2 as a stock mosh-client does (its screen is
`mosh_client.proto2_screen.Proto2Screen`, a Framebuffer fed by the host's escape sequences,
and its first words are its window size).
"""

from __future__ import annotations

import math
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from mosh_client.proto2_screen import Proto2Screen
from ssp.crypto import Key
from ssp.proto2.key import Proto2Key, parse_connect_key
from ssp.proto2.userstream import Proto2UserStream
from ssp.proto2.wire import Proto2Wire
from ssp.screen import Framebuffer
from ssp.transport import Endpoint, Event
from ssp.userstream import UserStream


class ScriptedClient:
    def __init__(self, host: str, port: int, key: str, width: int = 80, height: int = 24) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = trio.socket.socket(family, socket.SOCK_DGRAM)
        self.server = (host, port)
        parsed = parse_connect_key(key)
        self.proto2 = isinstance(parsed, Proto2Key)
        self.endpoint: Endpoint[UserStream, Framebuffer]
        if isinstance(parsed, Proto2Key):
            self.endpoint = Endpoint(
                parsed,
                "client",
                Proto2UserStream(),
                Proto2Screen(width, height),
                trio.current_time(),
                peer=self.server,
                wire=Proto2Wire,
            )
        else:
            self.endpoint = Endpoint(
                Key.from_text(key),
                "client",
                UserStream(),
                Framebuffer(),
                trio.current_time(),
                peer=self.server,
            )
        self.events: list[Event] = []
        self._changed = trio.Event()
        self._wakeup = trio.Event()
        self._nursery: trio.Nursery | None = None
        if self.proto2:
            self.resize(width, height)  # a stock client's first words

    @property
    def screen(self) -> Framebuffer:
        return self.endpoint.remote_state

    def screen_text(self) -> str:
        return "\n".join(self.screen.text_lines())

    def type(self, data: bytes) -> None:
        stream = self.endpoint.local_state.copy()
        stream.push_keystroke(data)
        self.endpoint.set_local_state(stream, trio.current_time())
        self._wakeup.set()

    def resize(self, width: int, height: int) -> None:
        stream = self.endpoint.local_state.copy()
        stream.push_resize(width, height)
        self.endpoint.set_local_state(stream, trio.current_time())
        self._wakeup.set()

    def quit(self) -> None:
        self.endpoint.start_shutdown(trio.current_time())
        self._wakeup.set()

    async def wait_for(
        self, predicate: Callable[[Framebuffer], bool], timeout: float = 10.0
    ) -> None:
        with trio.fail_after(timeout):
            while not predicate(self.screen):
                await self._changed.wait()
                self._changed = trio.Event()

    async def wait_for_text(self, text: str, timeout: float = 10.0) -> None:
        try:
            await self.wait_for(lambda fb: text in "\n".join(fb.text_lines()), timeout)
        except trio.TooSlowError:
            raise AssertionError(
                f"{text!r} never appeared; screen:\n{self.screen_text()}"
            ) from None

    async def hop_port(self) -> None:
        """Send from a new source port from now on (as mosh-client does after a dead NAT)."""
        assert self._nursery is not None
        fresh = trio.socket.socket(self.sock.family, socket.SOCK_DGRAM)
        if self.sock.family == socket.AF_INET:
            await fresh.bind((self.source_host, 0))
        self.sock = fresh
        self._nursery.start_soon(self._receive, fresh)
        self._wakeup.set()

    source_host = "127.0.0.1"

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._receive, self.sock)
            while True:
                now = trio.current_time()
                for data, addr in self.endpoint.datagrams_to_send(now):
                    await self.sock.sendto(data, addr)
                deadline = self.endpoint.next_deadline()
                with trio.move_on_at(deadline if math.isfinite(deadline) else now + 1.0):
                    await self._wakeup.wait()
                self._wakeup = trio.Event()

    async def _receive(self, sock: trio.socket.SocketType) -> None:
        while True:
            data, addr = await sock.recvfrom(65535)
            self.events += self.endpoint.receive_datagram(data, addr, trio.current_time())
            self._changed.set()
            self._wakeup.set()


@asynccontextmanager
async def scripted_client(
    host: str, port: int, key: str, width: int = 80, height: int = 24
) -> AsyncIterator[ScriptedClient]:
    client = ScriptedClient(host, port, key, width, height)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.run)
        try:
            yield client
        finally:
            nursery.cancel_scope.cancel()
            client.sock.close()


async def attach_then_vanish(host: str, port: object, key: object) -> None:
    """A client that attaches, sees its shell work, then dies without a word (kill -9, a
    laptop lid closed for good)."""
    client = ScriptedClient(host, int(str(port)), str(key))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.run)
        client.type(b"echo ready\r")
        await client.wait_for_text("ready")
        nursery.cancel_scope.cancel()

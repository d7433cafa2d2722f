"""Scrollback through a real daemon (issue #17): frames release it a bounded amount at a time,
a reattaching client gets the recent part, and the daemon-wide byte budget holds with many
sessions flooding. The daemon in-process, scripted SSP clients over loopback UDP."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from mosh_client.history_writer import HistoryFeed
from moshd.control import NewRequest
from moshd.daemon import Daemon, DaemonConfig
from moshd.ports import PortRange
from moshd.session import HISTORY_RELEASE, REATTACH_HISTORY, Session
from ssp.history import Delivered
from ssp.screen import Framebuffer, Row
from ssp.transport import RemoteStateChanged

from .sspclient import ScriptedClient

pytestmark = pytest.mark.trio

SHELL = ["bash", "--norc", "--noprofile"]


class HistoryClient(ScriptedClient):
    """A scripted client that takes each new state's scrollback, as mosh-client does, and
    records how many lines each diff brought."""

    def __init__(self, host: str, port: int, key: str) -> None:
        super().__init__(host, port, key)
        self.feed = HistoryFeed()
        self.lines: list[Row] = []
        self.largest_delivery = 0

    async def _receive(self, sock: trio.socket.SocketType) -> None:
        while True:
            data, addr = await sock.recvfrom(65535)
            events = self.endpoint.receive_datagram(data, addr, trio.current_time())
            if any(isinstance(event, RemoteStateChanged) for event in events):
                state = self.endpoint.remote_state
                if isinstance(state.history, Delivered):
                    self.largest_delivery = max(self.largest_delivery, len(state.history.lines))
                self.feed.take(state)
                self.lines += self.feed.drain()
            self.events += events
            self._changed.set()
            self._wakeup.set()

    def numbers(self) -> list[int]:
        return [int(row.text) for row in self.lines if row.text.isdigit()]


def _done(screen: Framebuffer) -> bool:
    return "seq-done" in screen.text_lines()  # the output's line, not the command's


def _on_screen(client: ScriptedClient) -> int:
    """How many numbers the screen shows (the rest of a `seq` is in the history)."""
    return sum(1 for line in client.screen.text_lines() if line.isdigit())


async def _new(daemon: Daemon) -> tuple[Session, int, str]:
    reply = await daemon.create_session(NewRequest(command=SHELL))
    return daemon.sessions[reply["session_id"]], reply["port"], reply["key"]


async def _attached(client: HistoryClient, typed: bytes, arrived: Callable[[], bool]) -> None:
    """`client` attached: types `typed` (if any), waits for `_done`, then until `arrived()`."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.run)
        if typed:
            client.type(typed)
        await client.wait_for(_done)
        with trio.fail_after(10):
            while not arrived():
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()


async def test_frames_release_a_bounded_amount_and_every_line_arrives(daemon: Daemon) -> None:
    _, port, key = await _new(daemon)
    client = HistoryClient("127.0.0.1", port, key)
    seq = b"PS1='$ '; seq 1 5000; echo seq-done\r"
    await _attached(client, seq, lambda: client.numbers()[-1:] == [5000 - _on_screen(client)])
    assert 0 < client.largest_delivery <= HISTORY_RELEASE
    numbers = client.numbers()
    assert numbers == list(range(1, len(numbers) + 1))
    assert not any(row.text.startswith("[moshd:") for row in client.lines)


async def test_a_reattaching_client_gets_the_recent_scrollback_first(daemon: Daemon) -> None:
    session, port, key = await _new(daemon)
    first = HistoryClient("127.0.0.1", port, key)
    await _attached(first, b"PS1='$ '; seq 1 3000; echo seq-done\r", lambda: True)
    end = session.history.end
    second = HistoryClient("127.0.0.1", port, session.attach().text)
    await _attached(second, b"", lambda: second.feed.written >= end)
    texts = [row.text for row in second.lines]
    assert len(texts) == REATTACH_HISTORY
    assert not any(text.startswith("[moshd:") for text in texts)
    numbers = second.numbers()
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert numbers[-1] == 3000 - _on_screen(second)  # then the screen, which shows the rest


async def test_many_sessions_flooding_stay_within_the_daemons_budget(
    nursery: trio.Nursery,
) -> None:
    budget = 3 << 20
    with tempfile.TemporaryDirectory(prefix="moshd-test-") as tmp:
        daemon = Daemon(
            DaemonConfig(
                control_path=Path(tmp) / "control.sock",
                bind_ip="127.0.0.1",
                ports=PortRange(61000, 61999),
                stop_grace=0.3,
                scrollback_bytes=budget,
            )
        )
        await nursery.start(daemon.run)
        sessions = []
        for n in range(8):
            flood = f"for i in $(seq 1 40); do seq -f '{n}x%g' 1 3000; done"
            reply = await daemon.create_session(NewRequest(command=["sh", "-c", flood]))
            sessions.append(daemon.sessions[reply["session_id"]])
        peak = 0
        with trio.fail_after(60):
            while any(s.history.end < 120_000 - 30 for s in sessions):
                used = daemon.history_budget.used
                peak = max(peak, used)
                assert used <= budget
                assert used == sum(s.history.bytes for s in sessions)
                await trio.sleep(0.005)
        assert peak > budget // 2  # the budget was what bounded them
        assert all(len(s.history) < 10_000 for s in sessions)
        daemon.stop()
        with trio.fail_after(10):
            while daemon.sessions:
                await trio.sleep(0.01)
        assert daemon.history_budget.used == 0  # ended sessions give their lines back

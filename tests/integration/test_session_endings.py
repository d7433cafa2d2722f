"""`kill` ends a session promptly whether its client is alive, dead or long silent; the program
is hung up at once, and a live client is told (issue: kill that does not kill)."""

from __future__ import annotations

import pytest
import trio

from moshd.control import NewRequest
from moshd.daemon import Daemon
from moshd.endings import CloseReason
from ssp.lifecycle import Closed, Ending
from ssp.timing import Timers
from testsupport.processes import alive

from .conftest import StartDaemon
from .sspclient import attach_then_vanish, scripted_client

pytestmark = pytest.mark.trio

KILL_BOUND = 3.0  # seconds from `kill` until the session is gone, whatever its client does


async def _session(daemon: Daemon) -> tuple[str, dict[str, object]]:
    reply = await daemon.create_session(NewRequest(command=["/bin/sh"]))
    return str(reply["session_id"]), reply


async def _gone_after(daemon: Daemon, session_id: str) -> float:
    """Kill the session; return how long until it is no longer listed."""
    session = daemon.sessions[session_id]
    started = trio.current_time()
    session.request_close(CloseReason.KILLED)
    with trio.fail_after(KILL_BOUND + 5):
        while session_id in daemon.sessions:
            await trio.sleep(0.01)
    return trio.current_time() - started


async def test_kill_with_a_live_client_tells_it_and_ends_at_once(daemon: Daemon) -> None:
    session_id, reply = await _session(daemon)
    async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
        client.type(b"echo ready\r")
        await client.wait_for_text("ready")
        took = await _gone_after(daemon, session_id)
        with trio.fail_after(2):
            while Closed(Ending.PEER_CLOSED) not in client.events + client.endpoint.take_events():
                await trio.sleep(0.01)
    assert took < 1.0  # the client acknowledges within a round trip


async def test_kill_with_a_dead_client_hangs_up_the_program_at_once(daemon: Daemon) -> None:
    session_id, reply = await _session(daemon)
    await attach_then_vanish("127.0.0.1", reply["port"], reply["key"])
    pid = daemon.sessions[session_id].child.pid
    session = daemon.sessions[session_id]
    session.request_close(CloseReason.KILLED)
    with trio.fail_after(1.0):
        while alive(pid) and session.child.poll_exit() is None:
            await trio.sleep(0.005)
    # The program went first, while the session was still saying goodbye to its dead client.
    assert session_id in daemon.sessions
    started = trio.current_time()
    with trio.fail_after(KILL_BOUND + 5):
        while session_id in daemon.sessions:
            await trio.sleep(0.01)
    assert trio.current_time() - started <= KILL_BOUND
    assert session.goodbye is Ending.GAVE_UP


async def test_kill_with_a_client_silent_for_minutes_ends_at_once(
    start_daemon: StartDaemon,
) -> None:
    # "Minutes" of silence means: past the 40 s association timeout, after which the server
    # stops sending. Shortened here so the test need not wait 40 s.
    daemon = await start_daemon(Timers(server_association_timeout=0.5))
    session_id, reply = await _session(daemon)
    await attach_then_vanish("127.0.0.1", reply["port"], reply["key"])
    await trio.sleep(1.0)
    took = await _gone_after(daemon, session_id)
    assert took < 0.5  # nobody to say goodbye to: no goodbye
    assert daemon.sessions == {}


async def test_kill_ends_a_session_whose_program_ended_before_any_client(
    daemon: Daemon,
) -> None:
    # Such a session keeps its final screen for the client it still expects (for up to 60 s);
    # `kill` must end that wait, not be ignored because "the program ended" came first.
    reply = await daemon.create_session(NewRequest(command=["/bin/true"]))
    session_id = str(reply["session_id"])
    session = daemon.sessions[session_id]
    with trio.fail_after(5):
        while session.close_reason is not CloseReason.CHILD_EXITED:
            await trio.sleep(0.01)
    took = await _gone_after(daemon, session_id)
    assert took < 0.5  # nobody to say goodbye to


async def test_keystrokes_for_a_program_that_never_reads_stay_bounded(daemon: Daemon) -> None:
    from moshd.session import PTY_BACKLOG_HIGH

    # Raw mode: a canonical-mode terminal would drop what does not fit its line, never block.
    command = ["/bin/sh", "-c", "stty raw -echo; sleep 60"]
    reply = await daemon.create_session(NewRequest(command=command))
    session = daemon.sessions[str(reply["session_id"])]
    chunk = 64 * 1024
    async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
        for _ in range(40):  # 2.5 MiB of pasting into a terminal nobody reads
            client.type(b"y" * chunk)
            await trio.sleep(0.05)
        with trio.fail_after(10):
            while not session.endpoint.input_paused:
                await trio.sleep(0.02)
        await trio.sleep(1.0)
        # At most the high mark plus what one accepted state carried (the input that crossed
        # it): the rest waits in the client, unacknowledged.
        assert session._to_pty_bytes <= PTY_BACKLOG_HIGH + 40 * chunk
        assert session._to_pty_bytes <= 2 * PTY_BACKLOG_HIGH
        assert session.endpoint.input_paused


async def test_a_huge_window_is_capped_at_what_real_terminals_use(daemon: Daemon) -> None:
    from moshd.session import MAX_COLUMNS, MAX_ROWS

    reply = await daemon.create_session(NewRequest(command=["/bin/sh"], width=4096, height=4096))
    async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
        client.resize(4096, 4096)
        client.type(b"stty size\r")
        await client.wait_for_text(f"{MAX_ROWS} {MAX_COLUMNS}")
        assert (client.screen.width, client.screen.height) == (MAX_COLUMNS, MAX_ROWS)

"""The daemon in-process, driven by scripted SSP clients over loopback UDP."""

from __future__ import annotations

import os
import socket
import time

import pytest
import structlog
import trio

from moshd.control import ControlError, NewRequest
from moshd.daemon import Daemon
from moshd.endings import CloseReason
from moshd.ports import PortRange
from ssp.crypto import Key
from ssp.transport import ShutdownRequested

from .sspclient import ScriptedClient, scripted_client

pytestmark = pytest.mark.trio


async def _new(daemon: Daemon, *command: str, **kwargs: object) -> dict[str, object]:
    return await daemon.create_session(
        NewRequest(command=list(command) or ["/bin/sh"], **kwargs)  # type: ignore[arg-type]
    )


async def _wait_closed(daemon: Daemon, session_id: str, timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while session_id in daemon.sessions:
            await trio.sleep(0.01)


async def test_typed_command_output_reaches_the_client(daemon: Daemon) -> None:
    reply = await _new(daemon)
    async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
        client.type(b"echo $((6*7))\r")
        await client.wait_for_text("42")
        session = daemon.sessions[str(reply["session_id"])]
        assert session.peer is not None and session.peer.startswith("127.0.0.1:")


async def test_resize_reaches_the_pty_and_the_emulator(daemon: Daemon) -> None:
    reply = await _new(daemon)
    async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
        client.resize(100, 30)
        client.type(b"stty size\r")
        await client.wait_for_text("30 100")
        assert (client.screen.width, client.screen.height) == (100, 30)


async def test_two_sessions_share_one_port_and_stay_isolated(daemon: Daemon) -> None:
    first = await _new(daemon)
    second = await _new(daemon)
    assert first["port"] == second["port"]
    assert first["key"] != second["key"]
    async with (
        scripted_client("127.0.0.1", first["port"], first["key"]) as one,
        scripted_client("127.0.0.1", second["port"], second["key"]) as two,
    ):
        one.type(b"echo ONE$((1+1))\r")
        two.type(b"echo TWO$((2+2))\r")
        await one.wait_for_text("ONE2")
        await two.wait_for_text("TWO4")
        assert "TWO" not in one.screen_text()
        assert "ONE" not in two.screen_text()


async def test_child_exit_ends_the_session_with_a_shutdown_to_the_client(daemon: Daemon) -> None:
    reply = await _new(daemon)
    session = daemon.sessions[str(reply["session_id"])]
    async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
        client.type(b"echo bye; exit 3\r")
        await _wait_closed(daemon, str(reply["session_id"]))
        assert any(isinstance(e, ShutdownRequested) for e in client.events)
        assert "bye" in client.screen_text()  # the final screen came with the shutdown
    assert session.close_reason is CloseReason.CHILD_EXITED
    assert session.exit_status == 3


async def test_a_fault_in_one_session_ends_only_that_session(daemon: Daemon) -> None:
    doomed = await _new(daemon)
    healthy = await _new(daemon)
    doomed_session = daemon.sessions[str(doomed["session_id"])]

    def explode(data: bytes) -> None:
        raise RuntimeError("injected emulator fault")

    doomed_session.emulator.feed = explode  # type: ignore[method-assign]
    async with (
        scripted_client("127.0.0.1", doomed["port"], doomed["key"]) as bad,
        scripted_client("127.0.0.1", healthy["port"], healthy["key"]) as good,
    ):
        bad.type(b"echo boom\r")
        await _wait_closed(daemon, str(doomed["session_id"]))
        assert doomed_session.close_reason is None  # it failed; nothing closed it normally
        with trio.fail_after(5):  # and its child was hung up
            while doomed_session.child.poll_exit() is None:
                await trio.sleep(0.01)
        good.type(b"echo still $((40+2))\r")
        await good.wait_for_text("still 42")
    assert str(healthy["session_id"]) in daemon.sessions


async def test_garbage_datagrams_do_not_disturb_a_live_session(daemon: Daemon) -> None:
    reply = await _new(daemon)
    port = int(str(reply["port"]))
    session = daemon.sessions[str(reply["session_id"])]
    conn_id = Key.from_text(str(reply["key"])).connection_id().to_bytes(8, "big")
    async with scripted_client("127.0.0.1", port, str(reply["key"])) as client:
        client.type(b"echo before\r")
        await client.wait_for_text("before")
        peer_before = session.peer
        attacker = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        await attacker.bind(("127.0.0.2", 0))
        for n in range(10_000):
            # Odd: pure junk. Even: routed to the session by its connection id, then junk.
            garbage = os.urandom(n % 1400) if n % 2 else conn_id + os.urandom(8 + n % 1200)
            await attacker.sendto(garbage, ("127.0.0.1", port))
            if n % 500 == 0:
                await trio.sleep(0.001)
        attacker.close()
        client.type(b"echo after $((1+1))\r")
        await client.wait_for_text("after 2")
        assert session.peer == peer_before  # forgeries never move the peer
        assert session.endpoint.drops.total > 1000
        assert str(reply["session_id"]) in daemon.sessions


async def test_kill_ends_the_session_and_tells_the_client(daemon: Daemon) -> None:
    reply = await _new(daemon)
    async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
        client.type(b"echo up\r")
        await client.wait_for_text("up")
        daemon.sessions[str(reply["session_id"])].request_close(CloseReason.KILLED)
        await _wait_closed(daemon, str(reply["session_id"]))
        with trio.fail_after(2):
            while not any(isinstance(e, ShutdownRequested) for e in client.events):
                await trio.sleep(0.01)


async def test_client_quit_ends_the_session_and_hangs_up_the_child(daemon: Daemon) -> None:
    reply = await _new(daemon)
    session = daemon.sessions[str(reply["session_id"])]
    async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
        client.type(b"echo up\r")
        await client.wait_for_text("up")
        client.quit()
        await _wait_closed(daemon, str(reply["session_id"]))
        assert client.endpoint.shutdown_acknowledged()
    assert session.close_reason is CloseReason.CLIENT_QUIT
    with trio.fail_after(5):
        while session.child.poll_exit() is None:
            await trio.sleep(0.01)


async def test_network_timeout_ends_a_session_without_contact(daemon: Daemon) -> None:
    reply = await _new(daemon, network_timeout=1)
    session = daemon.sessions[str(reply["session_id"])]
    client = ScriptedClient("127.0.0.1", int(str(reply["port"])), str(reply["key"]))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.run)
        client.type(b"echo hello\r")
        await client.wait_for_text("hello")
        nursery.cancel_scope.cancel()  # the client vanishes (no goodbye)
    wall, cpu = time.monotonic(), time.process_time()
    # 1 s of silence, then the goodbye to the vanished client: 16 tries a frame interval apart
    # (250 ms before the first RTT sample) = 4 s, never the spin that used to do it at once.
    await _wait_closed(daemon, str(reply["session_id"]), timeout=8)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    assert session.close_reason is CloseReason.NETWORK_TIMEOUT
    assert wall >= 1.0
    assert cpu < 0.2 * wall, (cpu, wall)  # the daemon sleeps between tries: no busy loop


async def test_session_nobody_attaches_to_ends(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("moshd.session.NO_CLIENT_TIMEOUT", 0.5)
    reply = await _new(daemon)
    session = daemon.sessions[str(reply["session_id"])]
    await _wait_closed(daemon, str(reply["session_id"]), timeout=5)
    assert session.close_reason is CloseReason.NO_CLIENT


async def test_emulator_replies_go_back_to_the_application(daemon: Daemon) -> None:
    # The application asks for the cursor position (DSR 6) and prints the terminal's answer.
    script = (
        "printf 'ab\\033[6n'; IFS= read -r -d R -t 5 answer; printf '\\n[%s]\\n' \"${answer#?}\""
    )
    reply = await _new(daemon, "/bin/bash", "-c", script + "; sleep 5")
    async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
        await client.wait_for_text("[[1;3]")


async def test_roaming_to_a_new_address_is_followed_and_logged(daemon: Daemon) -> None:
    reply = await _new(daemon)
    session = daemon.sessions[str(reply["session_id"])]
    with structlog.testing.capture_logs() as logs:
        async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
            client.type(b"echo one\r")
            await client.wait_for_text("one")
            first_peer = session.peer
            client.source_host = "127.0.0.2"  # a new address, as after a Wi-Fi change
            await client.hop_port()
            client.type(b"echo two $((1+1))\r")
            await client.wait_for_text("two 2")
            assert session.peer is not None and session.peer.startswith("127.0.0.2:")
    roams = [entry for entry in logs if entry["event"] == "session.roamed"]
    assert roams == [
        {
            "event": "session.roamed",
            "log_level": "info",
            "session_id": session.session_id,
            "old_peer": first_peer,
            "new_peer": session.peer,
        }
    ]
    assert any(entry["event"] == "session.rtt" and "srtt_ms" in entry for entry in logs)


async def test_echo_ack_confirms_input_the_application_has_had(daemon: Daemon) -> None:
    reply = await _new(daemon)
    async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
        client.type(b"echo x\r")
        await client.wait_for_text("x")
        typed_state = client.endpoint.last_sent_num
        await client.wait_for(lambda fb: fb.echo_ack >= typed_state, timeout=5)


async def test_sigusr1_ends_only_sessions_out_of_contact_for_the_signal_timeout(
    daemon: Daemon,
) -> None:
    quiet = await _new(daemon, signal_timeout=1)
    other = await _new(daemon)  # no signal timeout: SIGUSR1 never ends it
    async with scripted_client("127.0.0.1", other["port"], other["key"]) as client:
        client.type(b"echo alive\r")
        await client.wait_for_text("alive")
        await trio.sleep(1.2)
        daemon._on_sigusr1()
        await _wait_closed(daemon, str(quiet["session_id"]), timeout=5)
        assert str(other["session_id"]) in daemon.sessions


async def test_dedicated_port_range_and_address(daemon: Daemon) -> None:
    shared = await _new(daemon)
    dedicated = await _new(daemon, port=PortRange(61500, 61510), bind_ip="127.0.0.3")
    assert 61500 <= int(str(dedicated["port"])) <= 61510
    assert dedicated["port"] != shared["port"]
    async with scripted_client("127.0.0.3", dedicated["port"], dedicated["key"]) as client:
        client.type(b"echo dedicated\r")
        await client.wait_for_text("dedicated")


async def test_no_free_port_is_a_clear_error(daemon: Daemon) -> None:
    blocker = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    await blocker.bind(("127.0.0.1", 61900))
    try:
        with pytest.raises(ControlError) as caught:
            await _new(daemon, port=PortRange(61900, 61900), bind_ip="127.0.0.1")
        assert caught.value.code == "no_free_port"
        assert "61900" in caught.value.message
    finally:
        blocker.close()


async def test_a_command_that_ends_before_the_client_attaches_is_still_shown(
    daemon: Daemon,
) -> None:
    reply = await _new(daemon, "/bin/sh", "-c", "echo early-$((20+1))")
    await trio.sleep(0.5)  # the command is long gone when the client arrives
    assert str(reply["session_id"]) in daemon.sessions
    async with scripted_client("127.0.0.1", reply["port"], reply["key"]) as client:
        await client.wait_for_text("early-21")
        await _wait_closed(daemon, str(reply["session_id"]))
        assert any(isinstance(e, ShutdownRequested) for e in client.events)

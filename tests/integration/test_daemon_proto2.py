"""Stock clients' sessions (upstream's protocol 2) on the in-process daemon, over loopback UDP.

The client is `ScriptedClient` with a 22-character key: our protocol-2 endpoint, whose screen
is the stock client's emulator fed by the host's escape sequences (`Proto2Screen`). It proves
the session end to end: keystrokes echoed, resizes, echo acks, roaming found by trial, a native
and a stock session side by side on one port, list, kill and attach.
"""

from __future__ import annotations

import pytest
import trio

from moshd.attachment import Protocol
from moshd.control import KillRequest, ListRequest, NewRequest
from moshd.daemon import Daemon
from moshd.session import Session
from ssp.proto2.key import Proto2Key
from ssp.screen import rgb_color
from ssp.transport import ShutdownRequested

from .sspclient import scripted_client

pytestmark = pytest.mark.trio


async def _new(daemon: Daemon, *command: str, protocol: str = "proto2") -> tuple[Session, int, str]:
    reply = await daemon.create_session(
        NewRequest(command=list(command) or ["/bin/sh"], protocol=protocol)
    )
    return daemon.sessions[reply["session_id"]], reply["port"], reply["key"]


async def _until(predicate: object, timeout: float = 10.0, what: str = "condition") -> None:
    assert callable(predicate)
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


async def test_a_stock_session_echoes_keystrokes_and_acks_them(daemon: Daemon) -> None:
    session, port, key = await _new(daemon)
    assert len(key) == 22 and session.protocol is Protocol.PROTO2
    Proto2Key.from_text(key)
    async with scripted_client("127.0.0.1", port, key) as client:
        assert client.proto2
        client.type(b"echo $((6*7))\r")
        typed = client.endpoint.last_sent_num + 1  # the state the keystrokes travel in
        await client.wait_for_text("42")
        await client.wait_for(lambda screen: screen.echo_ack >= typed)
        assert session.peer is not None and session.peer.startswith("127.0.0.1:")
        assert client.endpoint.drops.total == 0


async def test_a_stock_clients_resize_reaches_the_program(daemon: Daemon) -> None:
    session, port, key = await _new(daemon)
    async with scripted_client("127.0.0.1", port, key, width=100, height=30) as client:
        client.type(b"stty size\r")
        await client.wait_for_text("30 100")
        client.resize(90, 20)
        client.resize(72, 20)  # consecutive resizes: the last one counts
        client.type(b"stty size\r")
        await client.wait_for_text("20 72")
        assert (client.screen.width, client.screen.height) == (72, 20)
        assert (session.emulator.width, session.emulator.height) == (72, 20)


async def test_arrows_are_rewritten_unless_the_application_set_decckm(daemon: Daemon) -> None:
    # od shows what reaches the program: ESC [ A (1b 5b 41) in normal mode, ESC O A in
    # application cursor-key mode, as upstream's server does it.
    _, port, key = await _new(daemon)
    async with scripted_client("127.0.0.1", port, key) as client:
        client.type(
            b"stty raw -echo; head -c 3 | od -An -tx1; echo; printf '\\033[?1hon'; "
            b"head -c 3 | od -An -tx1; echo; stty sane\r"
        )
        await trio.sleep(0.3)
        client.type(b"\x1bOA")
        await client.wait_for_text("1b 5b 41")
        await client.wait_for_text("on")
        client.type(b"\x1bO")  # split across two messages: still one key
        await trio.sleep(0.1)
        client.type(b"B")
        await client.wait_for_text("1b 4f 42")


async def test_a_stock_client_roams_to_a_new_address_found_by_trial(daemon: Daemon) -> None:
    session, port, key = await _new(daemon)
    router = session.udp.router
    async with scripted_client("127.0.0.1", port, key) as client:
        client.type(b"echo before\r")
        await client.wait_for_text("before")
        trials = router.trials
        client.source_host = "127.0.0.2"
        await client.hop_port()
        client.type(b"echo after$((1+1))\r")
        await client.wait_for_text("after2")
        assert session.peer is not None and session.peer.startswith("127.0.0.2:")
        assert router.trials > trials  # the new address was found by trial
        assert router.by_address[session.endpoint.peer] is session.attachment.stock_route
        settled = router.trials
        client.type(b"echo again\r")
        await client.wait_for_text("again")
        assert router.trials == settled  # and is now known: no more trials


async def test_native_and_stock_sessions_side_by_side_on_one_port(daemon: Daemon) -> None:
    stock, port_a, key_a = await _new(daemon)
    native, port_b, key_b = await _new(daemon, protocol="native")
    assert port_a == port_b and len(key_a) == 22 and len(key_b) == 43
    router = stock.udp.router
    async with (
        scripted_client("127.0.0.1", port_a, key_a) as one,
        scripted_client("127.0.0.1", port_b, key_b) as two,
    ):
        one.type(b"echo STOCK$((1+1))\r")
        two.type(b"echo NATIVE$((2+2))\r")
        await one.wait_for_text("STOCK2")
        await two.wait_for_text("NATIVE4")
        trials = router.trials
        for _ in range(5):
            two.type(b"x")
        await two.wait_for_text("xxxxx")
        assert router.trials == trials  # native datagrams never cost a trial decryption
        assert "NATIVE" not in one.screen_text() and "STOCK" not in two.screen_text()
        reply = await daemon.handle_request(ListRequest(), None)  # type: ignore[arg-type]
        listed = {s["session_id"]: s for s in reply["sessions"]}  # type: ignore[typeddict-item]
        assert listed[stock.session_id]["protocol"] == "proto2"
        assert listed[native.session_id]["protocol"] == "native"


async def test_kill_ends_a_stock_session_and_its_client_is_told(daemon: Daemon) -> None:
    session, port, key = await _new(daemon)
    async with scripted_client("127.0.0.1", port, key) as client:
        client.type(b"echo up\r")
        await client.wait_for_text("up")
        await daemon.handle_request(KillRequest(session.session_id), None)  # type: ignore[arg-type]
        await _until(lambda: any(isinstance(e, ShutdownRequested) for e in client.events))
        await _until(lambda: session.session_id not in daemon.sessions)
    assert not session.udp.router.stock  # its route went with it
    assert not session.udp.router.by_address


async def test_attach_gives_a_stock_session_a_fresh_key_and_the_old_one_stops(
    daemon: Daemon,
) -> None:
    session, port, key = await _new(daemon)
    async with scripted_client("127.0.0.1", port, key) as old:
        old.type(b"echo first\r")
        await old.wait_for_text("first")
        reply = daemon.attach_session(session.session_id)
        new_key = reply["key"]
        assert len(new_key) == 22 and new_key != key
        async with scripted_client("127.0.0.1", port, new_key) as new:
            await new.wait_for_text("first")  # the whole screen, at once
            new.type(b"echo second\r")
            await new.wait_for_text("second")
            await _until(lambda: any(isinstance(e, ShutdownRequested) for e in old.events))
            await _until(lambda: len(session.udp.router.stock) == 1, what="the old route's end")
    # The old key opens nothing any more: a client still holding it is dropped by the router.
    before = session.udp.router.drops.unmatched
    async with scripted_client("127.0.0.1", port, key) as stale:
        stale.type(b"echo stale\r")
        await _until(lambda: session.udp.router.drops.unmatched > before)
    assert session.attachment.endpoint.peer is not None
    assert "stale" not in session.emulator.snapshot().text_lines()[-1]


async def test_titles_bell_clipboard_and_true_colour_pass_through(daemon: Daemon) -> None:
    _, port, key = await _new(daemon)
    async with scripted_client("127.0.0.1", port, key) as client:
        client.type(b"echo ready\r")  # a first frame acknowledged: the bell is news then
        await client.wait_for_text("ready")
        await trio.sleep(0.3)
        client.type(
            b"printf '\\033]0;the-title\\007\\007\\033]52;c;aGVsbG8=\\007"
            b"\\033[38;2;1;2;3mTC\\033[0m\\n'\r"
        )
        await client.wait_for(lambda screen: screen.title == "the-title")
        await client.wait_for(lambda screen: screen.bell_count >= 1)
        await client.wait_for(lambda screen: screen.clipboard is not None)
        assert client.screen.clipboard is not None and client.screen.clipboard.data == "aGVsbG8="
        await client.wait_for(
            lambda s: any("TC" in r.text and "printf" not in r.text for r in s.rows)
        )
        row = next(r for r in client.screen.rows if "TC" in r.text and "printf" not in r.text)
        assert row.renditions[row.text.index("TC")].fg == rgb_color(1, 2, 3)

"""Reattach (issue #14): `attach` gives a live session a fresh key, the old one stops working,
its client (if alive) is told and let go, and the new client gets the whole screen at once.

The daemon in-process, scripted SSP clients over loopback UDP; the second client sends from
another loopback address, as a client on another machine would.
"""

from __future__ import annotations

from typing import cast

import pytest
import trio

from moshd.control import ControlError, ErrorCode, ListReply, ListRequest, NewRequest, PeerCreds
from moshd.daemon import Daemon
from moshd.endings import CloseReason
from moshd.session import Session
from ssp.crypto import Key
from ssp.lifecycle import Closed, Ending, Phase
from ssp.transport import ShutdownRequested

from .sspclient import ScriptedClient, attach_then_vanish, scripted_client

pytestmark = pytest.mark.trio

SHELL = ["bash", "--norc", "--noprofile"]
TAKEN_OVER = "this session was taken over by another client"
ME = PeerCreds(0, 0, 0)


async def _new(daemon: Daemon, *command: str) -> tuple[Session, int, str]:
    reply = await daemon.create_session(NewRequest(command=list(command) or SHELL))
    session = daemon.sessions[reply["session_id"]]
    return session, reply["port"], reply["key"]


async def _listed(daemon: Daemon) -> dict[str, dict[str, object]]:
    reply = cast(ListReply, await daemon.handle_request(ListRequest(), ME))
    return {info["session_id"]: dict(info) for info in reply["sessions"]}


async def _until(predicate: object, timeout: float = 10.0, what: str = "condition") -> None:
    assert callable(predicate)
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


def _second_client(port: int, key: str) -> ScriptedClient:
    return ScriptedClient("127.0.0.1", port, key)


async def test_attach_takes_over_a_live_client_and_gives_the_new_one_everything(
    daemon: Daemon,
) -> None:
    session, port, old_key = await _new(daemon)
    old_cid = Key.from_text(old_key).connection_id()
    async with scripted_client("127.0.0.1", port, old_key) as old:
        old.type(b"PS1='$ '; echo pid=$$; echo before-$((6*7))\r")
        await old.wait_for_text("before-42")
        pid_line = next(line for line in old.screen.text_lines() if line.startswith("pid="))
        # A program that reports the window change, waiting for it.
        # (The marker is computed, so the echoed command line itself does not contain it.)
        old.type(
            b"sh -c 'trap \"echo got-$((6*7))-winch; exit\" WINCH; while :; do sleep 0.05; done'\r"
        )
        await trio.sleep(0.3)

        reply = daemon.attach_session(session.session_id)
        assert reply["session_id"] == session.session_id and reply["port"] == port
        assert reply["key"] != old_key
        assert session.connection_id != old_cid
        assert session.connection_id in session.udp.routes

        # The old key no longer reaches the program, even before its goodbye ends.
        old.type(b"\x03echo old-key-$((2*3))\r")

        # The old client is told, with the reason, and the handshake ends cleanly.
        await _until(lambda: any(isinstance(e, ShutdownRequested) for e in old.events))
        assert old.screen.farewell == TAKEN_OVER
        await _until(lambda: old.endpoint.phase is Phase.CLOSED, what="the old client's end")
        await _until(lambda: old_cid not in session.udp.routes, what="the old route's removal")

        new = _second_client(port, reply["key"])
        new.source_host = "127.0.0.2"  # another address, as another machine would be
        async with trio.open_nursery() as nursery:
            await new.sock.bind(("127.0.0.2", 0))
            nursery.start_soon(new.run)
            new.resize(100, 30)
            # The whole screen at once: what was printed before the takeover.
            await new.wait_for_text("before-42")
            await new.wait_for_text("got-42-winch")  # the program saw the new window size
            new.type(b"stty size; echo $$\r")  # (the program above ended on the winch)
            await new.wait_for_text("30 100")
            await new.wait_for_text(pid_line[len("pid=") :] + "\n$")
            assert (new.screen.width, new.screen.height) == (100, 30)
            new.type(b"echo after-$((7*8))\r")
            await new.wait_for_text("after-56")
            assert "old-key-6" not in new.screen_text()
            assert session.peer is not None and session.peer.startswith("127.0.0.2:")
            nursery.cancel_scope.cancel()
    assert session.close_reason is None  # the same session goes on
    assert session.session_id in daemon.sessions
    assert Closed(Ending.PEER_CLOSED) in old.events + old.endpoint.take_events()


async def test_a_killed_clients_session_is_found_again(daemon: Daemon) -> None:
    session, port, key = await _new(daemon)
    await attach_then_vanish("127.0.0.1", port, key)
    reply = daemon.attach_session(session.session_id)
    async with scripted_client("127.0.0.1", port, reply["key"]) as client:
        await client.wait_for_text("ready")  # the earlier output
        client.type(b"echo again-$((5*5))\r")
        await client.wait_for_text("again-25")
    # The dead client's old key: nobody to tell, its route is gone at once.
    await _until(lambda: Key.from_text(key).connection_id() not in session.udp.routes)


async def test_datagrams_of_the_old_key_are_not_routed_after_attach(daemon: Daemon) -> None:
    session, port, key = await _new(daemon)
    daemon.attach_session(session.session_id)  # before any client came: nobody to tell
    await _until(lambda: Key.from_text(key).connection_id() not in session.udp.routes)
    before = session.udp.unroutable
    async with scripted_client("127.0.0.1", port, key) as stale:
        stale.type(b"echo stale\r")
        await _until(lambda: session.udp.unroutable > before)
        await trio.sleep(0.3)
        assert stale.endpoint.last_heard is None  # never an answer
    assert session.endpoint.last_heard is None  # the session heard nothing either


async def test_list_shows_attached_and_detached_with_since(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("moshd.session.DETACHED_AFTER", 0.5)
    session, port, key = await _new(daemon)
    async with scripted_client("127.0.0.1", port, key) as client:
        client.type(b"echo ready\r")
        await client.wait_for_text("ready")
        info = (await _listed(daemon))[session.session_id]
        assert info["state"] == "attached"
        assert info["last_heard"] is not None
        await trio.sleep(0.8)  # heartbeats are 3 s apart, but it heard the echo's ack lately
        client.type(b"x")
        await trio.sleep(0.1)
        assert (await _listed(daemon))[session.session_id]["state"] == "attached"
    # The client is gone without a word (cancelled, like kill -9).
    heard = (await _listed(daemon))[session.session_id]["last_heard"]
    await trio.sleep(0.7)
    info = (await _listed(daemon))[session.session_id]
    assert info["state"] == "detached"
    assert info["state_since"] == pytest.approx(heard, abs=0.05)
    assert str(info["peer"]).startswith("127.0.0.1:")


async def test_attach_without_an_id_takes_the_only_detached_session(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("moshd.session.DETACHED_AFTER", 0.5)
    with pytest.raises(ControlError) as nothing:
        daemon.attach_session(None)
    assert nothing.value.code is ErrorCode.NO_DETACHED_SESSION

    first, port, key = await _new(daemon)
    await attach_then_vanish("127.0.0.1", port, key)
    async with scripted_client("127.0.0.1", port, (await _new(daemon))[2]) as live:
        live.type(b"echo live\r")
        await live.wait_for_text("live")
        with pytest.raises(ControlError):  # not detached yet: within the grace
            daemon.attach_session(None)
        await trio.sleep(0.7)
        live.type(b"echo still\r")  # the live one stays attached
        await live.wait_for_text("still")
        reply = daemon.attach_session(None)
        assert reply["session_id"] == first.session_id

        await _new(daemon)  # nobody ever comes to these two
        await _new(daemon)
        await trio.sleep(0.7)
        live.type(b"echo still2\r")
        await live.wait_for_text("still2")
        with pytest.raises(ControlError) as several:
            daemon.attach_session(None)
        assert several.value.code is ErrorCode.SEVERAL_DETACHED
        assert "3 detached sessions" in several.value.message  # the attached-to, never heard


async def test_attach_to_an_unknown_or_ending_session_fails_clearly(daemon: Daemon) -> None:
    with pytest.raises(ControlError) as unknown:
        daemon.attach_session("nosuchid")
    assert unknown.value.code is ErrorCode.NO_SUCH_SESSION
    assert "nosuchid" in unknown.value.message

    session, port, key = await _new(daemon)
    async with scripted_client("127.0.0.1", port, key) as client:
        client.type(b"echo up\r")
        await client.wait_for_text("up")
        session.request_close(CloseReason.KILLED)
        with pytest.raises(ControlError) as ending:
            daemon.attach_session(session.session_id)
        assert ending.value.code is ErrorCode.SESSION_ENDED
        assert ending.value.message == f"session {session.session_id} has ended"
        await _until(lambda: session.session_id not in daemon.sessions)
    with pytest.raises(ControlError) as ended:
        daemon.attach_session(session.session_id)
    assert ended.value.code is ErrorCode.NO_SUCH_SESSION
    assert "has ended, or never existed" in ended.value.message


async def test_each_attachment_has_its_own_key_and_nonce_space(daemon: Daemon) -> None:
    session, _port, first_key = await _new(daemon)
    first_epoch = session.endpoint.nonce_epoch
    keys = {first_key}
    for _ in range(3):
        keys.add(daemon.attach_session(session.session_id)["key"])
        assert session.endpoint.nonce_epoch != first_epoch
    assert len(keys) == 4
    assert len({Key.from_text(k).connection_id() for k in keys}) == 4

"""Nonces stay unique under a key when an endpoint is run again (issue #12, point 8).

"A client restarted with the same MOSH_KEY starts again at seq 0; the nonce epoch, drawn at
random by every endpoint, keeps its nonces new. The receiver keeps one sequence space per run
of its peer: a restarted client is heard and roamed to, exact replays of any run are dropped,
and the runs remembered stay bounded."
"""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from ssp.crypto import Cipher, Key, nonce_for
from ssp.datagram import HEADER_BYTES, SEQ_MASK, open_packet
from ssp.replay import MAX_PEER_EPOCHS, REPLAY_WINDOW, SequenceSpace
from ssp.screen import Framebuffer
from ssp.timing import LOSS_EWMA_WEIGHT
from ssp.transport import Endpoint, PeerAddressChanged
from ssp.userstream import UserStream

from .test_receive_path import (
    ATTACKER_ADDR,
    CLIENT_ADDR,
    ROAMED_ADDR,
    SERVER_ADDR,
    Link,
    _collect_client_datagrams,
    assert_dropped,
    synced_link,
)


def restart_client(link: Link, addr: object = ROAMED_ADDR) -> Endpoint[UserStream, Framebuffer]:
    """The client process is run again with the same key: a new endpoint, from a new port."""
    link.client = Endpoint(
        link.key, "client", UserStream(), Framebuffer(), link.now, peer=SERVER_ADDR
    )
    link.client_addr = addr
    return link.client


def _nonces_with_ciphertexts(datagrams: list[bytes]) -> dict[bytes, set[bytes]]:
    """Each nonce used, with the sealed bodies sealed under it."""
    sealed: dict[bytes, set[bytes]] = {}
    for data in datagrams:
        sealed.setdefault(nonce_for(data[:HEADER_BYTES]), set()).add(data[HEADER_BYTES:])
    return sealed


# --- the sender -----------------------------------------------------------------------------
def test_a_restarted_client_never_seals_under_a_nonce_already_used() -> None:
    link = synced_link()
    first_run = len(link.received_by_server)
    restart_client(link)
    link.type(b"ls")  # the same keystrokes as the first run typed first, at seq 0 again
    link.run(1.0)
    link.type(b" -l")
    link.run(4.0)
    sent = link.received_by_server
    # Each nonce sealed exactly one datagram: never two different ciphertexts, nor one twice.
    sealed = _nonces_with_ciphertexts(sent)
    assert {n: c for n, c in sealed.items() if len(c) > 1} == {}
    assert len(sealed) == len(sent)
    cipher = Cipher(link.key)
    runs = {open_packet(cipher, data).epoch for data in sent}
    assert len(runs) == 2  # one epoch per run of the client
    assert open_packet(cipher, sent[first_run]).seq == 0  # it did start over


def test_every_endpoint_draws_its_own_epoch_and_seals_with_it() -> None:
    link = synced_link()
    cipher = Cipher(link.key)
    assert {open_packet(cipher, d).epoch for d in link.received_by_server} == {
        link.client.nonce_epoch
    }
    assert {open_packet(cipher, d).epoch for d in link.received_by_client} == {
        link.server.nonce_epoch
    }
    servers = [Endpoint(link.key, "server", Framebuffer(), UserStream(), 0.0) for _ in range(32)]
    assert len({server.nonce_epoch for server in servers}) == 32  # the server's is random too


def test_the_epoch_comes_from_the_injected_entropy() -> None:
    def seeded(seed: int) -> Endpoint[UserStream, Framebuffer]:
        rng = random.Random(seed)
        return Endpoint(
            Key.generate(),
            "client",
            UserStream(),
            Framebuffer(),
            0.0,
            SERVER_ADDR,
            entropy=rng.randbytes,
        )

    assert seeded(7).nonce_epoch == seeded(7).nonce_epoch  # a seeded simulation replays
    assert seeded(7).nonce_epoch != seeded(8).nonce_epoch
    fixed = Endpoint(
        Key.generate(),
        "client",
        UserStream(),
        Framebuffer(),
        0.0,
        SERVER_ADDR,
        entropy=lambda n: bytes(range(1, n + 1)),
    )
    assert fixed.nonce_epoch == 0x0102030405060708


# --- the receiver ---------------------------------------------------------------------------
def test_the_server_hears_a_restarted_client_and_roams_to_it() -> None:
    link = synced_link()
    link.server_events.clear()
    link.server_destinations.clear()
    heard = link.server.last_heard
    client = restart_client(link)
    link.type(b"x")
    link.run(4.0)  # past the server's heartbeat: the old run had acknowledged everything
    assert link.server.drops.replayed == 0  # seq 0 again, but of a new run: not a replay
    roams = [e for e in link.server_events if isinstance(e, PeerAddressChanged)]
    assert roams == [PeerAddressChanged(CLIENT_ADDR, ROAMED_ADDR)]
    assert link.server.peer == ROAMED_ADDR
    assert set(link.server_destinations) == {ROAMED_ADDR}
    assert link.server.last_heard is not None and heard is not None
    assert link.server.last_heard > heard
    # The server echoes the new run's timestamps to it, so the new client measures its RTT.
    assert client.rtt.sampled
    assert 2 * link.delay * 1000 - 5 <= client.rtt.srtt_ms <= 2 * link.delay * 1000 + 10


def test_a_new_run_counts_as_no_gap_and_no_late_arrival() -> None:
    link = synced_link()
    server = link.server
    server.loss.rate = 0.1  # whatever the old run measured stays as it was
    restart_client(link)
    first = _collect_client_datagrams(link, b"a")
    link.now += 0.05
    second = _collect_client_datagrams(link, b"b")
    server.receive_datagram(first[0], ROAMED_ADDR, link.now)
    # The new run's seq is far below the old run's: neither a gap nor a reordered datagram.
    assert server.loss.rate == 0.1
    server.receive_datagram(second[0], ROAMED_ADDR, link.now)
    assert server.loss.rate == 0.1 * (1 - LOSS_EWMA_WEIGHT)  # the next one, with no gap


def test_exact_replays_of_either_run_are_dropped() -> None:
    link = synced_link()
    old_run = list(link.received_by_server)
    restart_client(link)
    link.type(b"y")
    link.run(2.0)
    new_run = link.received_by_server[len(old_run) :]
    assert new_run
    replayed = link.server.drops.replayed
    for data in old_run + new_run:
        assert_dropped(link.server, data)
        assert_dropped(link.server, data, addr=CLIENT_ADDR)  # from the old address too
    assert link.server.drops.replayed == replayed + 2 * len(old_run + new_run)
    assert link.server.peer == ROAMED_ADDR


def test_the_remembered_runs_stay_bounded_and_the_run_in_use_stays() -> None:
    link = synced_link()
    server = link.server
    runs: list[list[bytes]] = []
    for index in range(MAX_PEER_EPOCHS + 5):
        restart_client(link, addr=("198.51.100.7", 41000 + index))
        caught = _collect_client_datagrams(link, b"r")
        for data in caught:
            server.receive_datagram(data, link.client_addr, link.now)
        runs.append(caught)
        assert len(server._peer_runs) <= MAX_PEER_EPOCHS
    assert len(server._peer_runs) == MAX_PEER_EPOCHS
    for caught in runs[-MAX_PEER_EPOCHS:]:  # the runs heard most recently are remembered
        for data in caught:
            assert_dropped(server, data, addr=ATTACKER_ADDR)
    assert server.peer == link.client_addr


# --- one run's sequence space ---------------------------------------------------------------
def _reference_note(seen: set[int], newest: list[int], seq: int) -> bool:
    """The replay rule as the plain set it replaces: a duplicate, or older than the window
    behind the newest sequence number seen, is refused."""
    expected = newest[0] + 1
    if seq in seen or seq + REPLAY_WINDOW < expected:
        return False
    seen.add(seq)
    newest[0] = max(newest[0], seq)
    return True


near = st.integers(0, 3 * REPLAY_WINDOW)
far = st.sampled_from([SEQ_MASK, SEQ_MASK - 1, 10**12, REPLAY_WINDOW - 1, REPLAY_WINDOW])


@given(st.lists(st.one_of(near, far), max_size=300))
def test_the_sequence_space_keeps_the_replay_rule(seqs: list[int]) -> None:
    space = SequenceSpace()
    seen: set[int] = set()
    newest = [-1]
    for seq in seqs:
        assert space.note(seq) == _reference_note(seen, newest, seq)
        assert space.expected == newest[0] + 1


def test_the_sequence_space_stays_small_whatever_the_jump() -> None:
    space = SequenceSpace()
    for seq in range(0, 3 * REPLAY_WINDOW, 3):
        assert space.note(seq)
    assert space._seen.bit_length() <= REPLAY_WINDOW
    assert space.note(SEQ_MASK)  # an authentic peer never jumps so far; it must not cost
    assert space._seen == 1
    assert not space.note(SEQ_MASK)
    assert space.note(SEQ_MASK - 1)
    assert not space.note(SEQ_MASK - REPLAY_WINDOW)  # older than the window: cannot tell


def test_the_run_in_use_is_forgotten_last() -> None:
    # Old runs turn up (a stale client, replays of runs forgotten long ago) while the client
    # in use keeps talking: the runs forgotten first are the ones heard least recently.
    link = synced_link()
    server = link.server
    in_use = list(link.received_by_server)
    for index in range(MAX_PEER_EPOCHS - 1):
        other = Endpoint(link.key, "client", UserStream(), Framebuffer(), link.now, SERVER_ADDR)
        stream = other.local_state.copy()
        stream.push_keystroke(b"o")
        other.set_local_state(stream, link.now)
        for data, _ in other.datagrams_to_send(link.now + 0.01):
            server.receive_datagram(data, ("198.51.100.8", 42000 + index), link.now)
    assert len(server._peer_runs) == MAX_PEER_EPOCHS
    link.type(b"!")  # the client in use is heard again...
    link.run(1.0)
    restart_client(link)  # ...before one more run turns up
    link.type(b"?")
    link.run(1.0)
    assert len(server._peer_runs) == MAX_PEER_EPOCHS
    for data in in_use:
        assert_dropped(server, data)

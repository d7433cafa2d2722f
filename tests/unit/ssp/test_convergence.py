"""Two endpoints over a link that drops, duplicates, reorders and delays datagrams."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ssp.datagram import DIRECTION_BIT, HEADER_BYTES
from ssp.userstream import Keystroke

from .simlink import LinkProfile, SimulatedSession

profiles = st.builds(
    LinkProfile,
    loss=st.floats(0.0, 0.5),
    duplicate=st.floats(0.0, 0.3),
    delay=st.floats(0.001, 0.4),
    jitter=st.floats(0.0, 0.3),
)
keystrokes = st.lists(
    st.tuples(
        st.floats(0.0, 0.5),
        st.binary(min_size=1, max_size=3).map(lambda b: bytes(0x61 + x % 26 for x in b)),
    ),
    min_size=1,
    max_size=40,
)


def _type_all(session: SimulatedSession, plan: list[tuple[float, bytes]]) -> None:
    for gap, data in plan:
        session.run_until(session.now + gap)
        session.type(data)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), up=profiles, down=profiles, plan=keystrokes)
def test_impaired_link_converges_with_every_keystroke_once_in_order(
    seed: int, up: LinkProfile, down: LinkProfile, plan: list[tuple[float, bytes]]
) -> None:
    session = SimulatedSession(seed, up, down)
    _type_all(session, plan)
    # The link heals (as every real one eventually does); everything must settle.
    session.up.loss = session.down.loss = 0.0
    session.run_until(session.now + 30.0)

    assert session.received == session.typed  # exactly once, in order
    assert session.client.remote_state == session.server.local_state  # newest screen arrived
    typed = b"".join(k.data for k in session.typed if isinstance(k, Keystroke))
    expected_tail = typed.decode()[-40:]
    assert session.client.remote_state.rows[-1].text.rstrip() == expected_tail


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), up=profiles, down=profiles, plan=keystrokes)
def test_no_nonce_repeats_under_a_key(
    seed: int, up: LinkProfile, down: LinkProfile, plan: list[tuple[float, bytes]]
) -> None:
    session = SimulatedSession(seed, up, down)
    _type_all(session, plan)
    session.run_until(session.now + 10.0)
    headers = session.sent_headers
    # The nonce is the clear header: connection id, epoch, direction bit | seq.
    assert len(set(headers)) == len(headers)
    directions = {int.from_bytes(h[HEADER_BYTES - 8 :], "big") & DIRECTION_BIT for h in headers}
    assert directions == {0, DIRECTION_BIT}


def test_states_in_flight_stay_bounded_under_sustained_loss() -> None:
    session = SimulatedSession(
        7, LinkProfile(loss=0.3, delay=0.1), LinkProfile(loss=0.3, delay=0.1)
    )
    for _ in range(300):
        session.run_until(session.now + 0.05)
        session.type(b"x")
    assert len(session.client._sender.sent) <= 32
    assert len(session.server._received) <= 64
    session.up.loss = session.down.loss = 0.0
    session.run_until(session.now + 20.0)
    assert session.received == session.typed


def _datagrams_of_a_session(seed: int) -> list[bytes]:
    lossy = LinkProfile(loss=0.2, duplicate=0.1, delay=0.03, jitter=0.05)
    session = SimulatedSession(seed, lossy, lossy)
    _type_all(session, [(0.05, b"ls"), (0.3, b"\r"), (0.01, b"exit")])
    session.run_until(session.now + 5.0)
    return session.sent_datagrams


def test_a_seed_replays_the_same_datagrams_byte_for_byte() -> None:
    # Key, nonce epochs and chaff all come from the seeded entropy, so a failing seed found by
    # hypothesis can be replayed exactly.
    first = _datagrams_of_a_session(7)
    assert len(first) > 10
    assert _datagrams_of_a_session(7) == first
    assert _datagrams_of_a_session(8) != first

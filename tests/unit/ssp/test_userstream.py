"""The user stream: keystrokes and resizes, exactly once and in order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssp.codec import DecodeError
from ssp.userstream import MAX_DIMENSION, Keystroke, Resize, UserEvent, UserStream

dimensions = st.integers(1, MAX_DIMENSION)
events = st.one_of(
    st.binary(min_size=1, max_size=12).map(Keystroke),
    st.sampled_from([b"\x03", b"\x1b[A", b"\r", "é".encode(), b"\x00"]).map(Keystroke),
    st.builds(Resize, dimensions, dimensions),
)
# A plan: events to push, with a flag after each saying "send a diff now".
plans = st.lists(st.tuples(events, st.booleans()), max_size=60)


def _push(stream: UserStream, event: UserEvent) -> None:
    if isinstance(event, Keystroke):
        stream.push_keystroke(event.data)
    else:
        stream.push_resize(event.width, event.height)


@settings(max_examples=150, deadline=None)
@given(plans)
def test_diffs_deliver_every_event_once_in_order(plan: list[tuple[UserEvent, bool]]) -> None:
    sender = UserStream()
    receiver = UserStream()
    acked = sender.copy()
    for event, send_now in plan:
        _push(sender, event)
        if send_now:
            receiver.apply(sender.diff_from(acked))
            acked = sender.copy()
            assert receiver == sender
    receiver.apply(sender.diff_from(acked))
    pushed = [event for event, _ in plan]
    assert receiver.events_since(0) == pushed
    assert receiver.total == sender.total == len(pushed)
    assert sender.diff_from(sender) == b""


@settings(max_examples=150, deadline=None)
@given(plans, st.data())
def test_subtract_forgets_the_prefix_and_diffs_still_work(
    plan: list[tuple[UserEvent, bool]], data: st.DataObject
) -> None:
    sender = UserStream()
    receiver = UserStream()
    acked = sender.copy()
    delivered: list[UserEvent] = []
    for event, send_now in plan:
        _push(sender, event)
        if send_now:
            receiver.apply(sender.diff_from(acked))
            delivered += receiver.events_since(acked.total)
            # The peer acknowledged `acked`: both sides forget it, as the transport does.
            if data.draw(st.booleans(), label="forget"):
                sender.subtract(acked)
                receiver.subtract(acked)
                with pytest.raises(ValueError):
                    sender.events_since(acked.total - 1)
            acked = sender.copy()
    receiver.apply(sender.diff_from(acked))
    delivered += receiver.events_since(acked.total)
    assert delivered == [event for event, _ in plan]
    assert receiver.total == sender.total == len(plan)


def test_subtract_then_diff_from_an_old_copy() -> None:
    stream = UserStream()
    for key in (b"a", b"b", b"c"):
        stream.push_keystroke(key)
    acked = stream.copy()  # total 3
    stream.push_keystroke(b"d")
    older = stream.copy()  # total 4
    stream.push_resize(100, 30)
    stream.subtract(acked)
    assert stream.total == 5
    assert stream.events_since(3) == [Keystroke(b"d"), Resize(100, 30)]
    with pytest.raises(ValueError, match="forgotten"):
        stream.events_since(2)
    mirror = older.copy()
    mirror.apply(stream.diff_from(older))
    assert mirror.events_since(4) == [Resize(100, 30)]
    assert mirror.total == 5
    with pytest.raises(ValueError):
        stream.diff_from(UserStream())  # from before the forgotten prefix
    # Subtracting a newer stream than self, or twice, never forgets more than it holds.
    stream.subtract(acked)
    stream.subtract(stream.copy())
    assert stream.total == 5
    assert stream.events_since(5) == []


def test_events_since() -> None:
    stream = UserStream()
    assert stream.events_since(0) == []
    stream.push_keystroke(b"x")
    stream.push_resize(80, 24)
    stream.push_keystroke(b"")  # nothing to send: ignored
    stream.push_keystroke(b"y")
    assert stream.total == 3
    assert stream.events_since(0) == [Keystroke(b"x"), Resize(80, 24), Keystroke(b"y")]
    assert stream.events_since(1) == [Resize(80, 24), Keystroke(b"y")]
    assert stream.events_since(3) == []
    assert isinstance(stream.events_since(2)[0], Keystroke)
    assert type(stream.events_since(2)[0].data) is bytes  # type: ignore[union-attr]


def test_equality_is_by_length_and_copies_are_independent() -> None:
    a = UserStream()
    a.push_keystroke(b"q")
    b = a.copy()
    assert a == b
    b.push_keystroke(b"r")
    assert a != b and a.total == 1 and b.total == 2
    assert a.events_since(0) == [Keystroke(b"q")]


def test_a_diff_from_a_newer_stream_is_refused() -> None:
    old = UserStream()
    new = old.copy()
    new.push_keystroke(b"k")
    with pytest.raises(ValueError):
        old.diff_from(new)


# --- malformed diffs ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "diff",
    [
        b"\x00",  # keystroke without a length
        b"\x00\x00",  # empty keystroke
        b"\x00\x05abc",  # truncated keystroke
        b"\x01",  # resize without numbers
        b"\x01\x50",  # resize without a height
        b"\x01\x00\x18",  # width 0
        b"\x01\x50\x00",  # height 0
        b"\x01\x81\x20\x18",  # width 4097
        b"\x01\x50\x81\x20",  # height 4097
        b"\x02",  # unknown tag
        b"\xff",
        b"\x00\x01a\x07",  # a good event, then an unknown tag
        b"\x00\x01a\x01\x50",  # a good event, then a truncated resize
        b"\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # an absurd length
    ],
)
def test_malformed_diffs_raise_and_change_nothing(diff: bytes) -> None:
    stream = UserStream()
    stream.push_keystroke(b"before")
    with pytest.raises(DecodeError):
        stream.apply(diff)
    assert stream.total == 1
    assert stream.events_since(0) == [Keystroke(b"before")]


@settings(max_examples=300)
@given(st.binary(max_size=40))
def test_random_diffs_raise_decode_error_or_append(garbage: bytes) -> None:
    stream = UserStream()
    stream.push_resize(80, 24)
    try:
        stream.apply(garbage)
    except DecodeError:
        assert stream.events_since(0) == [Resize(80, 24)]
    else:
        # Whatever was accepted re-encodes to exactly the same bytes.
        assert stream.diff_from(_with_total(1)) == garbage


def _with_total(total: int) -> UserStream:
    stream = UserStream()
    for _ in range(total):
        stream.push_resize(80, 24)
    return stream


def test_diff_encoding_is_exact_bytes() -> None:
    stream = UserStream()
    stream.push_keystroke(b"ab")
    stream.push_resize(300, 2)
    assert stream.diff_from(UserStream()) == b"\x00\x02ab\x01\xac\x02\x02"


@pytest.mark.parametrize(
    ("width", "height"),
    [(0, 24), (80, 0), (-1, 24), (80, -5), (MAX_DIMENSION + 1, 24), (80, MAX_DIMENSION + 1)],
)
def test_out_of_range_resize_is_rejected(width: int, height: int) -> None:
    stream = UserStream()
    with pytest.raises(ValueError, match="out of range"):
        stream.push_resize(width, height)
    assert stream.total == 0
    with pytest.raises(ValueError):
        Resize(width, height)


def test_extreme_valid_resizes_round_trip() -> None:
    stream = UserStream()
    stream.push_resize(1, 1)
    stream.push_resize(MAX_DIMENSION, MAX_DIMENSION)
    mirror = UserStream()
    mirror.apply(stream.diff_from(UserStream()))
    assert mirror.events_since(0) == [Resize(1, 1), Resize(MAX_DIMENSION, MAX_DIMENSION)]

"""The user stream on protocol 2's wire: the same events, diffs as UserMessage bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssp.codec import DecodeError
from ssp.proto2.messages import Keys, WindowSize, encode_user_message
from ssp.proto2.userstream import Proto2UserStream
from ssp.userstream import Keystroke, Resize, UserStream

EVENTS = st.lists(
    st.one_of(
        st.builds(Keystroke, st.binary(min_size=1, max_size=8)),
        st.builds(Resize, st.integers(1, 4096), st.integers(1, 4096)),
    ),
    max_size=12,
)


def _stream(events: list[Keystroke | Resize]) -> Proto2UserStream:
    stream = Proto2UserStream()
    for event in events:
        if isinstance(event, Keystroke):
            stream.push_keystroke(event.data)
        else:
            stream.push_resize(event.width, event.height)
    return stream


def test_diffs_are_upstreams_user_message_bytes() -> None:
    old = Proto2UserStream()
    new = old.copy()
    new.push_keystroke(b"a")
    assert new.diff_from(old) == bytes.fromhex("0a 05 12 03 22 01 61")
    resized = new.copy()
    resized.push_resize(80, 24)
    assert resized.diff_from(new) == bytes.fromhex("0a 06 1a 04 28 50 30 18")
    assert resized.diff_from(resized.copy()) == b""


def test_copy_keeps_the_wire_format() -> None:
    stream = Proto2UserStream()
    stream.push_keystroke(b"q")
    assert type(stream.copy()) is Proto2UserStream
    assert stream.copy().diff_from(Proto2UserStream()) == encode_user_message([Keys(b"q")])


@given(EVENTS, EVENTS)
def test_apply_of_a_diff_rebuilds_the_newer_stream(
    before: list[Keystroke | Resize], after: list[Keystroke | Resize]
) -> None:
    old = _stream(before)
    new = old.copy()
    for event in after:
        if isinstance(event, Keystroke):
            new.push_keystroke(event.data)
        else:
            new.push_resize(event.width, event.height)
    receiver = old.copy()
    receiver.apply(new.diff_from(old))
    assert receiver == new
    assert receiver.events_since(0) == new.events_since(0)


def test_a_stock_clients_messages_become_events() -> None:
    stream = Proto2UserStream()
    stream.apply(encode_user_message([Keys(b"ls\r"), WindowSize(120, 40), Keys(b"")]))
    assert stream.events_since(0) == [
        Keystroke(b"l"),
        Keystroke(b"s"),
        Keystroke(b"\r"),
        Resize(120, 40),
    ]


def test_a_resend_from_an_older_base_keeps_the_byte_count() -> None:
    # A stock client sent "echo" (state 1), then "\r" (state 2); its resend of state 2 from
    # state 0 carries "echo\r" in one instruction. The server consumed state 1's four bytes:
    # the resent state must give it exactly the fifth.
    base = Proto2UserStream()
    first = base.copy()
    first.apply(encode_user_message([Keys(b"echo")]))
    resent = base.copy()
    resent.apply(encode_user_message([Keys(b"echo\r")]))
    assert resent.events_since(first.total) == [Keystroke(b"\r")]


def test_consecutive_keystrokes_go_in_one_instruction_as_upstreams() -> None:
    stream = Proto2UserStream()
    stream.push_keystroke(b"ab")
    stream.push_keystroke(b"c")
    stream.push_resize(80, 24)
    stream.push_keystroke(b"d")
    assert stream.diff_from(Proto2UserStream()) == encode_user_message(
        [Keys(b"abc"), WindowSize(80, 24), Keys(b"d")]
    )


@pytest.mark.parametrize("size", [(0, 24), (80, -1), (5000, 24), (-(1 << 31), 1)])
def test_an_absurd_window_size_is_ignored_not_refused(size: tuple[int, int]) -> None:
    # Refusing it would make a stock client resend that state forever, blocking its input.
    stream = Proto2UserStream()
    stream.apply(encode_user_message([WindowSize(*size), Keys(b"k")]))
    assert stream.events_since(0) == [Keystroke(b"k")]


@given(st.binary(max_size=100))
def test_malformed_diffs_raise_decode_error_and_change_nothing(data: bytes) -> None:
    stream = Proto2UserStream()
    stream.push_keystroke(b"x")
    before = stream.events_since(0)
    try:
        stream.apply(data)
    except DecodeError:
        assert stream.events_since(0) == before


def test_the_native_stream_is_unchanged() -> None:
    stream = UserStream()
    stream.push_keystroke(b"a")
    assert stream.diff_from(UserStream()) == b"\x00\x01a"
    assert type(stream.copy()) is UserStream

"""The client's screen in a protocol-2 session: a stock server's HostMessages applied to the
client-side emulator, with cheap copies that share it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosh_client.proto2_screen import Proto2Screen
from ssp.codec import DecodeError
from ssp.proto2.messages import (
    EchoAck,
    HostBytes,
    WindowSize,
    encode_host_frame,
    encode_host_message,
)
from ssp.screen import Framebuffer, intern_rendition, palette_color
from termemu.emulator import Emulator


def frame(text: str, echo_ack: int | None = None, size: tuple[int, int] | None = None) -> bytes:
    return encode_host_frame(echo_ack, size, text.encode())


def applied(base: Proto2Screen, diff: bytes) -> Proto2Screen:
    """What the transport does with a diff: apply it to a copy of its base."""
    state = base.copy()
    state.apply(diff)
    return state


def test_it_starts_as_a_blank_screen_of_the_clients_window() -> None:
    screen = Proto2Screen(100, 30)
    assert (screen.width, screen.height) == (100, 30)
    assert screen.text_lines() == [""] * 30
    assert isinstance(screen, Framebuffer)
    assert screen.farewell == "" and screen.echo_ack == 0


def test_host_bytes_draw_text_cursor_and_title() -> None:
    screen = applied(Proto2Screen(), frame("\x1b]0;hi there\x07\x1b[0;1;31mhello\x1b[3;7H"))
    assert screen.text_lines()[0] == "hello"
    assert (screen.cursor_row, screen.cursor_col) == (2, 6)
    assert screen.title == screen.icon_name == "hi there"
    assert screen.rows[0].renditions[0] == intern_rendition(palette_color(1), 0, 1)


def test_a_resize_comes_first_and_sizes_the_screen() -> None:
    diff = frame("\x1b[r\x1b[0m\x1b[H\x1b[2Jwide", size=(120, 40))
    screen = applied(Proto2Screen(80, 24), diff)
    assert (screen.width, screen.height) == (120, 40)
    assert screen.text_lines()[0] == "wide"


def test_forwarded_modes_bell_and_clipboard() -> None:
    screen = applied(Proto2Screen(), frame("\x07\x1b[?2004h\x1b[?1002h\x1b]52;c;aGk=\x07"))
    assert screen.bell_count == 1
    assert screen.modes.bracketed_paste and screen.modes.mouse_reporting == 1002
    assert screen.clipboard is not None and screen.clipboard.data == "aGk="
    screen = applied(screen, frame("\x1b[?25l"))
    assert not screen.modes.cursor_visible


def test_the_real_terminal_is_kept_in_application_cursor_mode() -> None:
    """A stock server rewrites arrows itself and never forwards DECCKM."""
    assert Proto2Screen().modes.app_cursor_keys
    assert applied(Proto2Screen(), frame("\x1b[?1l x")).modes.app_cursor_keys


def test_echo_ack_alone_changes_nothing_else_and_needs_no_emulator() -> None:
    screen = applied(Proto2Screen(), frame("abc"))
    rebuilds = screen.rebuilds
    acked = applied(screen, encode_host_message([EchoAck(7)]))
    assert acked.echo_ack == 7
    assert acked.text_lines() == screen.text_lines() and screen.echo_ack == 0
    # ... and the live emulator still shows that screen: the next frame needs no rebuild.
    later = applied(acked, frame("d", echo_ack=9))
    assert later.text_lines()[0] == "abcd" and later.echo_ack == 9
    assert later.rebuilds == rebuilds


def test_the_newest_state_is_fed_without_rebuilding() -> None:
    screen = Proto2Screen()
    for char in "abcdef":
        screen = applied(screen, frame(char))
    assert screen.text_lines()[0] == "abcdef"
    assert screen.rebuilds == 1  # the very first emulator only


def test_a_diff_against_an_older_state_rebuilds_from_it() -> None:
    """The server diffs against the state it believes we have; after a loss that is an older
    one, which the live emulator has moved past."""
    # The server's frames leave the pen as its screen's pen: red here, then default.
    one = applied(Proto2Screen(20, 3), frame("\x1b[0;31mone"))
    two = applied(one, frame("\x1b[0m two"))
    assert two.text_lines()[0] == "one two"
    three = applied(one, frame("X"))  # against `one`: the live emulator shows `two`
    assert three.rebuilds == 2  # the first emulator, and this one
    assert three.text_lines()[0] == "oneX"
    assert three.rows[0].renditions[3] == intern_rendition(palette_color(1), 0, 0)  # pen kept
    assert one.text_lines()[0] == "one" and two.text_lines()[0] == "one two"  # untouched


def test_a_bad_diff_is_refused_and_leaves_the_state_alone() -> None:
    screen = applied(Proto2Screen(), frame("abc"))
    before = screen.copy()
    with pytest.raises(DecodeError):
        screen.apply(b"\x0a\x05\x12")  # truncated protobuf
    with pytest.raises(DecodeError):
        screen.apply(encode_host_message([WindowSize(0, 24), HostBytes(b"zzz")]))
    assert screen == before


def test_queries_are_never_answered() -> None:
    screen = applied(Proto2Screen(), frame("\x1b[c\x1b[6n"))
    emulator = screen._live.emulator
    assert emulator is not None and emulator.take_replies() == b""


# --- property: live feeding and rebuilding give what one emulator per chain gives -----------
_PIECES = ["ab", "中", "\r\n", "\x1b[K", "\x1b[3X", "\x1b[0;1;32m", "\x1b[0m", "\x07", "\x1b[2J"]
_PIECES += ["\x1b]2;t\x07", "\x1b[?25l", "\x1b[?25h", "Z" * 12, "\x1b[1;3r\x1b[3;1H\n\x1b[r"]
host_strings = st.lists(st.sampled_from(_PIECES), max_size=12).map(
    lambda p: "".join(p) + "\x1b[2;2H"  # upstream places the cursor at the end of each frame
)
steps = st.lists(
    st.tuples(
        st.integers(0, 1000),  # which existing state is the base (modulo the count)
        host_strings,
        st.one_of(st.none(), st.tuples(st.integers(1, 15), st.integers(2, 6))),
        st.one_of(st.none(), st.integers(0, 50)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_any_base_gives_what_one_emulator_fed_its_chain_gives(
    chain_steps: list[tuple[int, str, tuple[int, int] | None, int | None]],
) -> None:
    states = [Proto2Screen(10, 4)]
    chains: list[list[tuple[str, tuple[int, int] | None]]] = [[]]
    for pick, text, size, echo in chain_steps:
        index = pick % len(states)
        state = applied(states[index], frame(text, echo, size))
        states.append(state)
        chains.append([*chains[index], (text, size)])
        reference = Emulator(10, 4)
        for chunk, new_size in chains[-1]:
            if new_size is not None:
                reference.resize(*new_size)
            reference.feed(chunk.encode())
        expected = reference.snapshot(state.echo_ack)
        assert state.rows == expected.rows
        assert (state.cursor_row, state.cursor_col) == (expected.cursor_row, expected.cursor_col)
        assert (state.title, state.bell_count) == (expected.title, expected.bell_count)
        assert state.modes.cursor_visible == expected.modes.cursor_visible

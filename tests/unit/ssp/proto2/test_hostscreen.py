"""ssp.proto2.hostscreen: the screen state a server syncs to a stock client, and upstream's
rewriting of the client's cursor keys."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mosh_client.proto2_screen import Proto2Screen
from ssp.proto2.frames import new_frame
from ssp.proto2.hostscreen import CursorKeys, HostScreen
from ssp.proto2.messages import EchoAck, HostBytes, WindowSize, decode_host_message
from ssp.screen import Framebuffer
from termemu.emulator import Emulator


def _screen(text: bytes, width: int = 80, height: int = 24, echo_ack: int = 0) -> Framebuffer:
    emulator = Emulator(width, height)
    emulator.feed(text)
    return emulator.snapshot(echo_ack)


def test_the_first_frame_resizes_and_repaints_whatever_the_clients_size() -> None:
    state = HostScreen.of(_screen(b"hello\r\nworld", 80, 24, echo_ack=3))
    items = decode_host_message(state.diff_from(HostScreen()))
    assert items[:2] == [EchoAck(3), WindowSize(80, 24)]
    assert isinstance(items[2], HostBytes)
    assert items[2].hoststring.startswith(b"\x1b[r\x1b[0m\x1b[H\x1b[2J")  # from a cleared screen
    # A stock client of another size ends up with exactly our screen.
    for width, height in ((80, 24), (132, 50), (20, 5)):
        client = Proto2Screen(width, height)
        client.apply(state.diff_from(HostScreen()))
        assert client.text_lines()[:2] == ["hello", "world"]
        assert (client.width, client.height) == (80, 24)
        assert client.echo_ack == 3


def test_state_zero_has_nothing_to_send() -> None:
    assert HostScreen().diff_from(HostScreen()) == b""
    assert HostScreen() == HostScreen()


def test_the_echo_ack_goes_only_when_it_changed() -> None:
    fb = _screen(b"$ ")
    older = HostScreen.of(fb)
    acked = HostScreen.of(replace(fb, echo_ack=7))
    assert decode_host_message(acked.diff_from(older)) == [EchoAck(7)]
    typed = HostScreen.of(_screen(b"$ x", echo_ack=7))
    items = decode_host_message(typed.diff_from(acked))
    assert [type(item) for item in items] == [HostBytes]  # no echo ack, no resize


def test_a_diff_from_an_older_state_is_upstreams_frame_between_the_two() -> None:
    old_fb, new_fb = _screen(b"one"), _screen(b"one\r\ntwo")
    old, new = HostScreen.of(old_fb), HostScreen.of(new_fb)
    assert decode_host_message(new.diff_from(old)) == [HostBytes(new_frame(old_fb, new_fb))]
    resized = HostScreen.of(_screen(b"one", 100, 30))
    items = decode_host_message(resized.diff_from(new))
    assert items[0] == WindowSize(100, 30) and isinstance(items[1], HostBytes)


def test_equal_means_nothing_to_send() -> None:
    # What no protocol-2 frame carries must not make two states differ, or the sender would
    # find a new state with nothing to send in it, again and again.
    fb = _screen(b"same")
    base = HostScreen.of(fb)
    other = replace(fb, farewell="bye")
    other.modes = replace(other.modes, app_cursor_keys=True, app_keypad=True)
    trimmed = HostScreen.of(other)
    assert trimmed == base and trimmed.diff_from(base) == b""
    assert base.copy() == base and base.copy().fb is base.fb


@pytest.mark.parametrize(
    ("keys", "app_mode", "sent"),
    [
        (b"\x1bOA\x1bOB\x1bOC\x1bOD", False, b"\x1b[A\x1b[B\x1b[C\x1b[D"),
        (b"\x1bOA\x1bOD", True, b"\x1bOA\x1bOD"),  # the application set DECCKM
        (b"\x1bOP", False, b"\x1bOP"),  # F1 is not a cursor key
        (b"\x1b\x1bOA", False, b"\x1b\x1bOA"),  # as upstream: ESC ESC leaves the machine
        (b"plain text\r", False, b"plain text\r"),
        (b"\x1b[A", False, b"\x1b[A"),
    ],
)
def test_cursor_keys_are_rewritten_as_upstreams_server_does(
    keys: bytes, app_mode: bool, sent: bytes
) -> None:
    assert CursorKeys().translate(keys, app_mode) == sent


def test_a_cursor_key_split_across_messages_is_still_one_key() -> None:
    keys = CursorKeys()
    assert keys.translate(b"ab\x1bO", False) == b"ab\x1b"  # "O" held for the next byte
    assert keys.translate(b"C", False) == b"[C"
    assert keys.translate(b"\x1b", False) == b"\x1b"
    assert keys.translate(b"Ox", False) == b"Ox"

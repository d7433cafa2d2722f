"""The escape-key state machine and the cursor-key rewrite."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mosh_client.escape import (
    DEFAULT_ESCAPE_KEY,
    Action,
    EscapeMachine,
    Quit,
    SendBytes,
    Suspend,
    parse_escape_key,
    rewrite_cursor_keys,
)

ESC = 0x1E
CTRL_Z = b"\x1a"


def feed_bytewise(machine: EscapeMachine, data: bytes) -> list[Action]:
    actions: list[Action] = []
    for i in range(len(data)):
        actions.extend(machine.feed(data[i : i + 1]))
        if actions and isinstance(actions[-1], Quit):
            break  # as feed() does with the rest of its data
    return merge(actions)


def merge(actions: list[Action]) -> list[Action]:
    """Join adjacent SendBytes, as one feed() call does."""
    merged: list[Action] = []
    for action in actions:
        if isinstance(action, SendBytes) and merged and isinstance(merged[-1], SendBytes):
            merged[-1] = SendBytes(merged[-1].data + action.data)
        else:
            merged.append(action)
    return merged


def sent(actions: list[Action]) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, SendBytes))


# --- MOSH_ESCAPE_KEY ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 0x1E),
        ("", None),  # empty disables escapes
        ("~", ord("~")),
        ("\x02", 0x02),  # Ctrl-B
        ("\x1b", 0x1B),
        ("\x7f", 0x7F),
        (" ", 0x20),
        ("\x03", 0x1E),  # Ctrl-C, Ctrl-D, LF, Ctrl-L, CR are refused
        ("\x04", 0x1E),
        ("\n", 0x1E),
        ("\x0c", 0x1E),
        ("\r", 0x1E),
        ("é", 0x1E),  # not ASCII
        ("\udcff", 0x1E),  # a non-UTF-8 byte as os.environ shows it
        ("none", 0x1E),  # more than one character: the default, no error
        ("^B", 0x1E),  # the printable spelling is not understood, as upstream
    ],
)
def test_parse_escape_key(value: str | None, expected: int | None) -> None:
    assert parse_escape_key(value) == expected


@pytest.mark.parametrize("key", [0, 128, 0x03, 0x04, 0x0A, 0x0C, 0x0D, -1])
def test_constructor_refuses_unusable_keys(key: int) -> None:
    with pytest.raises(ValueError):
        EscapeMachine(key)


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        (0x1E, "Ctrl-^ ."),
        (0x02, "Ctrl-B ."),
        (0x1F, "Ctrl-_ ."),
        (ord("~"), "~ ."),
        (0x7F, "Ctrl-? ."),
    ],
)
def test_hint(key: int, hint: str) -> None:
    assert EscapeMachine(key).hint == hint


def test_disabled_has_no_hint_and_passes_everything() -> None:
    machine = EscapeMachine(None)
    assert machine.hint == ""
    data = bytes(range(256)) + b"\n\x1e.~."
    assert machine.feed(data) == [SendBytes(data)]


# --- control-character escape (default Ctrl-^) -------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", []),
        (b"abc", [SendBytes(b"abc")]),
        (b"\x1e.", [Quit()]),
        (b"ls\x1e.", [SendBytes(b"ls"), Quit()]),
        (b"ls\x1e.more", [SendBytes(b"ls"), Quit()]),  # nothing after Quit
        (b"\x1e\x1a", [Suspend()]),
        (b"a\x1e\x1ab", [SendBytes(b"a"), Suspend(), SendBytes(b"b")]),
        (b"\x1e^", [SendBytes(b"\x1e")]),
        (b"a\x1e^b", [SendBytes(b"a\x1eb")]),
        (b"\x1ex", [SendBytes(b"\x1ex")]),
        (b"\x1e\x1e", [SendBytes(b"\x1e\x1e")]),  # escape twice: both pass, sequence over
        (b"\x1e\x1e.", [SendBytes(b"\x1e\x1e.")]),
        (b"\x1e\x1e\x1e.", [SendBytes(b"\x1e\x1e"), Quit()]),
        (b"\x1e~", [SendBytes(b"\x1e~")]),
        (b"\x1ez", [SendBytes(b"\x1ez")]),  # only Ctrl-Z suspends, not z
        (b"mid\x1e.", [SendBytes(b"mid"), Quit()]),  # recognised mid-line
        (b"\x1e", []),  # pending
    ],
)
def test_control_escape(data: bytes, expected: list[Action]) -> None:
    assert EscapeMachine().feed(data) == expected
    assert feed_bytewise(EscapeMachine(), data) == expected


def test_pending_carries_over_calls() -> None:
    machine = EscapeMachine()
    assert machine.feed(b"ab\x1e") == [SendBytes(b"ab")]
    assert machine.feed(b".") == [Quit()]


def test_pending_then_literal_across_calls() -> None:
    machine = EscapeMachine()
    assert machine.feed(b"\x1e") == []
    assert machine.feed(b"q") == [SendBytes(b"\x1eq")]
    assert machine.feed(b".") == [SendBytes(b".")]  # the escape is over


def test_letter_control_key_passes_with_either_case() -> None:
    machine = EscapeMachine(0x02)  # Ctrl-B, as in tmux
    assert machine.feed(b"\x02B\x02b\x02c") == [SendBytes(b"\x02\x02\x02c")]
    assert machine.feed(b"\x02.") == [Quit()]


def test_suspend_then_more() -> None:
    machine = EscapeMachine()
    assert machine.feed(b"x\x1e\x1ay\x1e^") == [SendBytes(b"x"), Suspend(), SendBytes(b"y\x1e")]


# --- printable escape (~, like ssh) -----------------------------------------------------------

TILDE = ord("~")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"~.", [Quit()]),  # the very start counts as a line start
        (b"~~", [SendBytes(b"~")]),
        (b"~x", [SendBytes(b"~x")]),
        (b"a~.", [SendBytes(b"a~.")]),  # mid-line: plain text
        (b"a~~", [SendBytes(b"a~~")]),
        (b"a\r~.", [SendBytes(b"a\r"), Quit()]),
        (b"a\n~.", [SendBytes(b"a\n"), Quit()]),
        (b"a\r~~b", [SendBytes(b"a\r~b")]),
        (b"a\r~\x1a", [SendBytes(b"a\r"), Suspend()]),
        (b"\r~~~.", [SendBytes(b"\r~~.")]),  # after ~~ we are mid-line
        (b"\r~x~.", [SendBytes(b"\r~x~.")]),
        (b"\r~\r~.", [SendBytes(b"\r~\r"), Quit()]),  # ~ CR sends both, CR starts a line
        (b"\r~\x1a~.", [SendBytes(b"\r"), Suspend(), Quit()]),  # suspend keeps the line start
        (b"\x1e.", [SendBytes(b"\x1e.")]),  # Ctrl-^ is nothing special any more
        (b"\r\n~.", [SendBytes(b"\r\n"), Quit()]),
    ],
)
def test_printable_escape(data: bytes, expected: list[Action]) -> None:
    assert EscapeMachine(TILDE).feed(data) == expected
    assert feed_bytewise(EscapeMachine(TILDE), data) == expected


def test_printable_uppercase_letter_passes_with_either_case() -> None:
    machine = EscapeMachine(ord("E"))
    assert machine.feed(b"EE\rEe\rEx") == [SendBytes(b"E\rE\rEx")]


def test_del_as_escape_needs_line_start_as_upstream() -> None:
    machine = EscapeMachine(0x7F)
    assert machine.feed(b"ab\x7f\x7f") == [SendBytes(b"ab\x7f\x7f")]
    assert machine.feed(b"\r\x7f.") == [SendBytes(b"\r"), Quit()]


def test_quit_drops_rest_even_bytewise_state() -> None:
    machine = EscapeMachine()
    assert machine.feed(b"\x1e.abc") == [Quit()]
    # The machine is usable afterwards (the caller decides what a Quit means).
    assert machine.feed(b"x") == [SendBytes(b"x")]


# --- properties --------------------------------------------------------------------------------


def quote(data: bytes, key: int) -> bytes:
    """What a user types to send `data` literally (escape key → escape key + its pass key)."""
    out = bytearray()
    line_start = True
    printable = key >= 0x20
    pass_key = key if printable else key + 0x40
    for byte in data:
        if byte == key and (line_start or not printable):
            out += bytes([key, pass_key])
            line_start = False
        else:
            out.append(byte)
            line_start = byte in (0x0A, 0x0D)
    return bytes(out)


@given(st.binary(max_size=300).filter(lambda d: DEFAULT_ESCAPE_KEY not in d))
def test_bytes_without_escape_pass_unchanged(data: bytes) -> None:
    actions = EscapeMachine().feed(data)
    assert actions == ([SendBytes(data)] if data else [])


@given(st.binary(max_size=300).filter(lambda d: TILDE not in d))
def test_bytes_without_tilde_pass_unchanged_with_tilde_key(data: bytes) -> None:
    assert EscapeMachine(TILDE).feed(data) == ([SendBytes(data)] if data else [])


@given(st.binary(max_size=200), st.sampled_from([0x1E, 0x02, 0x1B, TILDE, ord("E"), 0x7F]))
def test_quoted_data_comes_out_exactly(data: bytes, key: int) -> None:
    machine = EscapeMachine(key)
    actions = machine.feed(quote(data, key))
    assert actions == ([SendBytes(data)] if data else [])
    assert machine.feed(b"x") == [SendBytes(b"x")]  # no escape left waiting for its command


@given(
    st.binary(max_size=60).filter(lambda d: TILDE not in d),
    st.binary(max_size=60).filter(lambda d: TILDE not in d),
    st.sampled_from([b"\r", b"\n"]),
)
def test_double_tilde_after_newline_sends_one(x: bytes, y: bytes, newline: bytes) -> None:
    data = x + newline + b"~~" + y
    assert sent(EscapeMachine(TILDE).feed(data)) == x + newline + b"~" + y


@given(
    st.binary(min_size=1, max_size=60).filter(
        lambda d: TILDE not in d and d[-1] not in (0x0A, 0x0D)
    ),
    st.binary(max_size=60).filter(lambda d: TILDE not in d),
)
def test_double_tilde_mid_line_is_text(x: bytes, y: bytes) -> None:
    data = x + b"~~" + y
    assert EscapeMachine(TILDE).feed(data) == [SendBytes(data)]


@given(
    st.binary(max_size=200),
    st.lists(st.integers(min_value=0, max_value=200), max_size=10),
    st.sampled_from([0x1E, TILDE]),
)
def test_chunking_does_not_matter(data: bytes, cuts: list[int], key: int) -> None:
    whole = EscapeMachine(key).feed(data)
    machine = EscapeMachine(key)
    pieces: list[Action] = []
    start = 0
    for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
        pieces.extend(machine.feed(data[start:cut]))
        start = cut
        if any(isinstance(a, Quit) for a in pieces):
            break
    assert merge(pieces) == whole


@given(st.binary(max_size=200), st.sampled_from([0x1E, TILDE]))
def test_feed_output_is_merged(data: bytes, key: int) -> None:
    actions = EscapeMachine(key).feed(data)
    for first, second in itertools.pairwise(actions):
        assert not (isinstance(first, SendBytes) and isinstance(second, SendBytes))
    assert all(a.data for a in actions if isinstance(a, SendBytes))
    assert all(not isinstance(a, Quit) for a in actions[:-1])


# --- cursor keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "normal"),
    [
        (b"\x1bOA", b"\x1b[A"),
        (b"\x1bOB\x1bOC\x1bOD", b"\x1b[B\x1b[C\x1b[D"),
        (b"x\x1bOAy", b"x\x1b[Ay"),
        (b"\x1bOE", b"\x1bOE"),  # not an arrow
        (b"\x1bOP", b"\x1bOP"),  # F1 stays SS3
        (b"\x1bOH", b"\x1bOH"),  # Home too
        (b"\x1b[A", b"\x1b[A"),
        (b"\x1bO", b"\x1bO"),  # incomplete: left alone
        (b"OA", b"OA"),
        (b"\x1b\x1bOA", b"\x1b\x1b[A"),  # Alt+Up
        (b"", b""),
    ],
)
def test_rewrite_cursor_keys(data: bytes, normal: bytes) -> None:
    assert rewrite_cursor_keys(data, app_cursor_keys=False) == normal
    assert rewrite_cursor_keys(data, app_cursor_keys=True) == data


@given(st.binary(max_size=200).filter(lambda d: b"\x1bO" not in d))
def test_rewrite_leaves_other_bytes(data: bytes) -> None:
    assert rewrite_cursor_keys(data, app_cursor_keys=False) == data

"""The prediction engine against scripted server frames."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosh_client.prediction import (
    GLITCH_THRESHOLD,
    MAX_PREDICTED_PASTE,
    PredictionEngine,
)
from ssp.screen import DEFAULT_RENDITION, UNDERLINE, Framebuffer, Row

WIDTH, HEIGHT = 20, 4
SLOW = 0.100  # frame interval of a ~200 ms RTT link: shown and underlined
FAST = 0.020


def frame(*lines: str, cursor: tuple[int, int], echo_ack: int = 0) -> Framebuffer:
    rows = []
    for text in list(lines) + [""] * (HEIGHT - len(lines)):
        cells = _cells(text)
        cells += [" "] * (WIDTH - len(cells))
        rows.append(Row(tuple(cells), (DEFAULT_RENDITION,) * WIDTH))
    fb = Framebuffer(
        width=WIDTH, height=HEIGHT, rows=rows, cursor_row=cursor[0], cursor_col=cursor[1]
    )
    fb.echo_ack = echo_ack
    return fb


def _cells(text: str) -> list[str]:
    cells: list[str] = []
    for char in text:
        cells.append(char)
        if char == "中":
            cells.append("")
    return cells


def shown(engine: PredictionEngine, fb: Framebuffer) -> tuple[str, tuple[int, int]]:
    out = engine.apply(fb)
    return out.rows[0].text.rstrip(), (out.cursor_row, out.cursor_col)


class Typist:
    """Types into an engine the way the client does, numbering user-stream states."""

    def __init__(self, engine: PredictionEngine) -> None:
        self.engine = engine
        self.sent = 0
        self.now = 100.0

    def type(self, data: bytes, fb: Framebuffer) -> int:
        self.engine.new_user_input(data, fb, self.sent, self.now)
        self.sent += 1  # each keystroke goes out in its own state
        self.now += 0.05
        return self.sent


def confirmed_engine() -> tuple[PredictionEngine, Typist, Framebuffer]:
    """An engine that has seen one correct guess on `$ l`: its epoch is confirmed."""
    engine = PredictionEngine("adaptive")
    engine.set_send_interval(SLOW)
    typist = Typist(engine)
    prompt = frame("$ ", cursor=(0, 2))
    state = typist.type(b"l", prompt)
    assert shown(engine, prompt)[0] == "$"  # the first guess of an epoch is not shown
    echoed = frame("$ l", cursor=(0, 3), echo_ack=state)
    engine.cull(echoed, typist.now)
    assert engine.confirmed_epoch >= 1
    return engine, typist, echoed


def test_correct_guesses_confirm_the_epoch_and_show_at_once() -> None:
    engine, typist, echoed = confirmed_engine()
    typist.type(b"s", echoed)
    text, cursor = shown(engine, echoed)
    assert text == "$ ls"
    assert cursor == (0, 4)
    typist.type(b" -a", echoed)
    assert shown(engine, echoed) == ("$ ls -a", (0, 7))


def test_guesses_are_underlined_on_a_slow_link_only() -> None:
    engine, typist, echoed = confirmed_engine()
    typist.type(b"s", echoed)
    assert engine.apply(echoed).rows[0].renditions[3].attrs & UNDERLINE
    engine.set_send_interval(0.060)  # between the thresholds (50, 80 ms]: hysteresis keeps it
    engine.cull(echoed, typist.now)
    assert engine.apply(echoed).rows[0].renditions[3].attrs & UNDERLINE
    engine.set_send_interval(0.050)
    engine.cull(echoed, typist.now)
    assert not engine.apply(echoed).rows[0].renditions[3].attrs & UNDERLINE


def test_display_thresholds_follow_the_frame_interval() -> None:
    engine = PredictionEngine("adaptive")
    engine.set_send_interval(0.025)  # between LOW and HIGH, never triggered: hidden
    engine.cull(frame("$ ", cursor=(0, 2)), 0.0)
    assert not engine.showing
    engine.set_send_interval(0.031)
    engine.cull(frame("$ ", cursor=(0, 2)), 0.0)
    assert engine.showing
    engine.set_send_interval(0.021)  # above LOW: stays on
    engine.cull(frame("$ ", cursor=(0, 2)), 0.0)
    assert engine.showing
    engine.set_send_interval(0.020)
    engine.cull(frame("$ ", cursor=(0, 2)), 0.0)
    assert not engine.showing


def test_display_stays_on_while_guesses_are_pending() -> None:
    engine, typist, echoed = confirmed_engine()
    typist.type(b"s", echoed)
    engine.set_send_interval(FAST)
    engine.cull(echoed, typist.now)
    assert engine.showing  # "only when none are pending"
    settled = frame("$ ls", cursor=(0, 4), echo_ack=typist.sent)
    engine.cull(settled, typist.now)  # the guess is confirmed and gone ...
    assert not engine.active
    engine.cull(settled, typist.now)  # ... so the next frame turns the display off
    assert not engine.showing


def test_a_wrong_shown_guess_resets_within_the_frame_that_disproves_it() -> None:
    engine, typist, echoed = confirmed_engine()
    state = typist.type(b"s", echoed)
    assert shown(engine, echoed)[0] == "$ ls"
    truth = frame("$ lX", cursor=(0, 4), echo_ack=state)  # the application showed X
    engine.cull(truth, typist.now)
    assert shown(engine, truth) == ("$ lX", (0, 4))
    assert not engine.active


def test_a_no_echo_prompt_never_shows_a_typed_character() -> None:
    engine, typist, echoed = confirmed_engine()
    typist.type(b"\r", echoed)  # Enter: a new epoch
    prompt = frame("$ l", "Password: ", cursor=(1, 10), echo_ack=typist.sent)
    engine.cull(prompt, typist.now)
    for char in b"hunter2":
        state = typist.type(bytes([char]), prompt)
        for ack in (state - 1, state):  # before and after the server has had it
            silent = frame("$ l", "Password: ", cursor=(1, 10), echo_ack=ack)
            engine.cull(silent, typist.now)
            out = engine.apply(silent)
            assert out.rows[1].text.rstrip() == "Password:", chr(char)
            assert (out.cursor_row, out.cursor_col) == (1, 10)


def test_enter_starts_a_new_epoch() -> None:
    engine, typist, echoed = confirmed_engine()
    epoch = engine.prediction_epoch
    typist.type(b"\r", echoed)
    assert engine.prediction_epoch > epoch
    next_prompt = frame("$ l", "$ ", cursor=(1, 2), echo_ack=typist.sent)
    engine.cull(next_prompt, typist.now)
    typist.type(b"p", next_prompt)
    assert engine.apply(next_prompt).rows[1].text.rstrip() == "$"  # tentative: hidden
    confirmed = frame("$ l", "$ p", cursor=(1, 3), echo_ack=typist.sent)
    engine.cull(confirmed, typist.now)
    typist.type(b"w", confirmed)
    assert engine.apply(confirmed).rows[1].text.rstrip() == "$ pw"


def test_backspace_and_arrows() -> None:
    engine, typist, echoed = confirmed_engine()
    typist.type(b"sx", echoed)
    typist.type(b"\x7f", echoed)
    assert shown(engine, echoed) == ("$ ls", (0, 4))
    typist.type(b"\x1b[D", echoed)
    assert shown(engine, echoed)[1] == (0, 3)
    typist.type(b"\x1bOC", echoed)  # application-mode right arrow
    assert shown(engine, echoed)[1] == (0, 4)
    typist.type(b"\x1b[D\x1b[DZ", echoed)  # insert in the middle shifts the rest right
    assert shown(engine, echoed)[0] == "$ Zls"


def test_wide_characters_are_predicted_in_two_cells() -> None:
    engine, typist, echoed = confirmed_engine()
    typist.type("中".encode(), echoed)
    out = engine.apply(echoed)
    assert out.rows[0].cells[3:5] == ("中", "")
    assert (out.cursor_row, out.cursor_col) == (0, 5)
    typist.type(b"x", echoed)
    assert engine.apply(echoed).rows[0].text.rstrip() == "$ l中x"
    typist.type(b"\x7f\x7f", echoed)  # x, then both halves of 中
    out = engine.apply(echoed)
    assert out.rows[0].text.rstrip() == "$ l"
    assert out.cursor_col == 3
    confirmed = frame("$ l中", cursor=(0, 5), echo_ack=2)
    engine2, typist2, _ = confirmed_engine()
    typist2.type("中".encode(), frame("$ l", cursor=(0, 3), echo_ack=1))
    engine2.cull(confirmed, typist2.now)
    assert engine2.confirmed_epoch >= 1  # the server agreed with the wide guess


def test_a_slow_guess_shows_predictions_even_on_a_fast_link() -> None:
    engine = PredictionEngine("adaptive")
    engine.set_send_interval(FAST)
    typist = Typist(engine)
    prompt = frame("$ ", cursor=(0, 2))
    engine.cull(prompt, typist.now)
    assert not engine.showing
    typist.type(b"a", prompt)
    engine.cull(prompt, typist.now + GLITCH_THRESHOLD + 0.01)
    assert engine.showing


def test_large_pastes_are_not_predicted() -> None:
    engine, typist, echoed = confirmed_engine()
    typist.type(b"x" * (MAX_PREDICTED_PASTE + 1), echoed)
    assert shown(engine, echoed) == ("$ l", (0, 3))


def test_resize_resets_every_guess() -> None:
    engine, typist, echoed = confirmed_engine()
    typist.type(b"s", echoed)
    bigger = Framebuffer(width=WIDTH + 5, height=HEIGHT)
    engine.cull(bigger, typist.now)
    assert not engine.active


def test_never_mode_shows_nothing_and_always_mode_ignores_the_link() -> None:
    never = PredictionEngine("never")
    prompt = frame("$ ", cursor=(0, 2))
    never.new_user_input(b"abc", prompt, 0, 0.0)
    assert never.apply(prompt) is prompt
    always = PredictionEngine("always")
    always.set_send_interval(FAST)
    always.cull(prompt, 0.0)
    assert always.showing


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"a", b"Z", b"\x7f", b"\x1b[D", b"\x1b[C", b"\r", b"\x03", "中".encode(), b"\x1b[A"]
        ),
        max_size=40,
    )
)
def test_any_keystrokes_keep_the_overlay_consistent(keys: list[bytes]) -> None:
    engine, typist, echoed = confirmed_engine()
    for key in keys:
        typist.type(key, echoed)
        out = engine.apply(echoed)
        assert (out.width, out.height) == (WIDTH, HEIGHT)
        assert 0 <= out.cursor_row < HEIGHT and 0 <= out.cursor_col < WIDTH
        for row in out.rows:
            assert len(row.cells) == WIDTH
            for col, cell in enumerate(row.cells):
                if cell == "":
                    assert col > 0 and row.cells[col - 1] == "中"


@pytest.mark.parametrize("mode", ["adaptive", "always"])
def test_nothing_is_drawn_before_an_epoch_is_confirmed(mode: str) -> None:
    engine = PredictionEngine(mode)  # type: ignore[arg-type]
    engine.set_send_interval(SLOW)
    typist = Typist(engine)
    prompt = frame("$ ", cursor=(0, 2))
    typist.type(b"abc", prompt)
    assert shown(engine, prompt) == ("$", (0, 2))


def _server_frame(t: float, key_times: list[float], keys: str, rtt: float) -> Framebuffer:
    """What the client has received by time `t` from a shell that prints its prompt 0.2 s late
    and echoes each key on arrival; echo_ack trails the echo by 50 ms."""
    echoed = sum(1 for k in key_times if k <= t - rtt)
    acked = sum(1 for k in key_times if k <= t - rtt - 0.05)
    if t < 0.2 + rtt / 2:
        return frame("warm-2", "", cursor=(1, 0), echo_ack=acked)
    line = "$ " + keys[:echoed]
    return frame("warm-2", line, cursor=(1, len(line)), echo_ack=acked)


def test_a_misplaced_first_guess_does_not_poison_the_rest_of_the_line() -> None:
    # The user starts typing before the prompt is drawn, then keeps typing faster than the RTT.
    rtt, gap, keys = 0.25, 0.15, "echo hello world"
    engine = PredictionEngine("adaptive")
    engine.set_send_interval(rtt / 2)
    key_times: list[float] = []
    ahead = 0  # how often the screen showed more than the server had echoed
    t = 0.0
    for index, key in enumerate(keys):
        while t < index * gap:  # frames arrive every 10 ms between keys
            engine.cull(_server_frame(t, key_times, keys, rtt), t)
            t += 0.01
        current = _server_frame(t, key_times, keys, rtt)
        engine.new_user_input(key.encode(), current, index, t)
        key_times.append(t)
        shown_line = engine.apply(current).rows[1].text.rstrip()
        if len(shown_line) > len(current.rows[1].text.rstrip()):
            assert shown_line == ("$ " + keys[: index + 1])[: len(shown_line)]
            ahead += 1
    assert ahead >= len(keys) // 2  # most keys still showed at once

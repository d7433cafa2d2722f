"""The notification bar (upstream mosh's wording and timing) and frame composition."""

from __future__ import annotations

import pytest

from mosh_client.display import Display
from mosh_client.overlay import (
    BAR_BLANK,
    BAR_TEXT,
    bar_row,
    compose,
    fit_row,
    format_duration,
    notification_refresh_interval,
    notification_text,
)
from ssp.screen import (
    BOLD,
    DEFAULT_RENDITION,
    Framebuffer,
    Modes,
    Row,
    blank_row,
    palette_color,
)
from termemu.emulator import Emulator

QUIT = " [To quit: Ctrl-^ .]"


def text(now: float, **kwargs: float | None) -> str | None:
    args: dict[str, float | None] = {"last_heard": 0.0, "last_acked": 0.0, "started": 0.0}
    args.update(kwargs)
    return notification_text(
        now,
        last_heard=args["last_heard"],
        last_acked=args["last_acked"],
        started=args["started"] or 0.0,
        server_port=60001,
    )


def refresh(now: float, **kwargs: float | None) -> float:
    args: dict[str, float | None] = {"last_heard": 0.0, "last_acked": 0.0, "started": 0.0}
    args.update(kwargs)
    return notification_refresh_interval(
        now,
        last_heard=args["last_heard"],
        last_acked=args["last_acked"],
        started=args["started"] or 0.0,
    )


# --- wording and thresholds ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0 seconds"),
        (6.99, "6 seconds"),
        (59.9, "59 seconds"),
        (60, "1:00"),
        (65, "1:05"),
        (3599, "59:59"),
        (3600, "1:00:00"),
        (3725, "1:02:05"),
        (-3, "0 seconds"),
    ],
)
def test_format_duration(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


def test_format_duration_abbreviated() -> None:
    assert format_duration(7.5, "s") == "7 s"


def test_last_contact_after_six_and_a_half_seconds() -> None:
    assert text(6.4) is None
    assert text(6.5) is None  # upstream: strictly more than 6500 ms
    assert text(6.6) == "mosh: Last contact 6 seconds ago." + QUIT
    assert text(65) == "mosh: Last contact 1:05 ago." + QUIT
    assert text(3725) == "mosh: Last contact 1:02:05 ago." + QUIT


def test_last_reply_when_only_the_uplink_is_broken() -> None:
    assert text(109.9, last_heard=109.0, last_acked=100.0) is None
    assert text(112.5, last_heard=112.0, last_acked=100.0) == (
        "mosh: Last reply 12 seconds ago." + QUIT
    )
    # The server silent too: "contact" wins, counted from the last word heard.
    assert text(120, last_heard=110.0, last_acked=100.0) == (
        "mosh: Last contact 10 seconds ago." + QUIT
    )


def test_connecting_message() -> None:
    connecting = "mosh: Nothing received from server on UDP port 60001."
    assert text(100.1, last_heard=None, last_acked=None, started=100.0) is None
    assert text(100.3, last_heard=None, last_acked=None, started=100.0) == connecting + QUIT
    # Once the count-up starts as well, upstream shows both.
    assert text(108, last_heard=None, last_acked=None, started=100.0) == (
        connecting + " (8 s without contact.)" + QUIT
    )
    assert text(170, last_heard=None, last_acked=None, started=100.0) == (
        connecting + " (1:10 without contact.)" + QUIT
    )


def test_custom_escape_hint() -> None:
    message = notification_text(
        7,
        last_heard=0,
        last_acked=0,
        started=0,
        server_port=60001,
        escape_hint='"~" .',
    )
    assert message == 'mosh: Last contact 7 seconds ago. [To quit: "~" .]'


# --- refresh timing --------------------------------------------------------------------------
def test_refresh_waits_for_the_bar_to_appear() -> None:
    assert refresh(3.0) == pytest.approx(3.5)
    # "reply" would come at 10 s, but "contact" at 6.5 s comes first.
    assert refresh(2.0, last_heard=1.0, last_acked=0.0) == pytest.approx(5.5)
    assert refresh(100.1, last_heard=None, last_acked=None, started=100.0) == pytest.approx(0.15)


def test_refresh_ticks_every_second_then_every_three() -> None:
    assert refresh(6.6) == pytest.approx(0.4)
    assert refresh(30.25) == pytest.approx(0.75)
    assert refresh(70.5) == pytest.approx(1.5)  # next multiple of 3 s: 72
    assert refresh(72.0) == pytest.approx(3.0)
    # Uplink-only trouble counts the reply age, still every second.
    assert refresh(112.5, last_heard=112.0, last_acked=100.0) == pytest.approx(0.5)


def test_refresh_interval_predicts_every_text_change() -> None:
    """Sampling densely: in the first minute the text never changes before the predicted
    moment (later the count-up is shown every 3 s only, see above)."""
    cases: list[dict[str, float | None]] = [
        {"last_heard": 0.0, "last_acked": 0.0, "started": 0.0},
        {"last_heard": 5.0, "last_acked": 0.0, "started": 0.0},
        {"last_heard": None, "last_acked": None, "started": 0.0},
    ]
    for case in cases:
        now = 0.0
        while now < 60:
            current = text(now, **case)
            wait = refresh(now, **case)
            assert wait > 0
            probe = now + 0.01
            while probe < now + wait - 1e-6:
                assert text(probe, **case) == current, (case, now, probe)
                probe += 0.05
            now += wait


# --- composition -----------------------------------------------------------------------------
def _remote(width: int, height: int, lines: list[str], **kwargs: object) -> Framebuffer:
    rows = [Row(tuple(line.ljust(width)[:width]), (DEFAULT_RENDITION,) * width) for line in lines]
    rows += [blank_row(width)] * (height - len(rows))
    return Framebuffer(width=width, height=height, rows=rows, **kwargs)  # type: ignore[arg-type]


def test_compose_same_size_keeps_rows_and_does_not_mutate() -> None:
    remote = _remote(10, 3, ["abc", "def"], cursor_row=1, cursor_col=2, title="t")
    before = remote.copy()
    rows_before = list(remote.rows)
    out = compose(remote, 10, 3, None)
    assert out is not remote and out == remote
    assert all(a is b for a, b in zip(out.rows, remote.rows, strict=True))
    out.rows[0] = blank_row(10)
    assert remote == before and remote.rows == rows_before


def test_compose_draws_the_bar_without_touching_the_remote_frame() -> None:
    remote = _remote(40, 3, ["shell prompt", "more"], cursor_row=1, cursor_col=4)
    before = remote.copy()
    message = "mosh: Last contact 7 seconds ago." + QUIT
    out = compose(remote, 40, 3, message)
    assert remote == before
    assert out.rows[0].text == message[:40]
    assert out.rows[1] is remote.rows[1]
    assert out.rows[0].renditions[0] == BAR_TEXT
    assert BAR_TEXT.fg == palette_color(7) and BAR_TEXT.bg == palette_color(4)
    assert BAR_TEXT.attrs & BOLD
    assert out.rows[0].renditions[-1].bg == palette_color(4)
    assert out.modes.cursor_visible  # the cursor is not under the bar


def test_bar_hides_a_cursor_on_the_top_row() -> None:
    remote = _remote(20, 3, ["$ "], cursor_row=0, cursor_col=2)
    out = compose(remote, 20, 3, "mosh: hello")
    assert not out.modes.cursor_visible
    assert remote.modes.cursor_visible


def test_bar_text_is_truncated_and_cached() -> None:
    row = bar_row("0123456789abcdef", 10)
    assert row.text == "0123456789"
    assert bar_row("0123456789abcdef", 10) is row
    short = bar_row("hi", 5)
    assert short.renditions == (BAR_TEXT, BAR_TEXT, BAR_BLANK, BAR_BLANK, BAR_BLANK)
    wide = bar_row("ab中文", 5)  # the second wide character does not fit
    assert wide.cells == ("a", "b", "中", "", " ")


def test_compose_crops_and_pads() -> None:
    remote = _remote(6, 4, ["abcdef", "ghijkl", "", "mnopqr"], cursor_row=1, cursor_col=5)
    smaller = compose(remote, 4, 3, None)
    # Rows below the cursor go first (as the server's emulator does on a resize).
    assert smaller.text_lines() == ["abcd", "ghij", ""]
    assert (smaller.cursor_row, smaller.cursor_col) == (1, 3)
    bigger = compose(remote, 8, 6, None)
    assert bigger.text_lines() == ["abcdef", "ghijkl", "", "mnopqr", "", ""]
    assert all(row.width == 8 for row in bigger.rows)
    assert bigger.rows[0].renditions[7] == DEFAULT_RENDITION


def test_crop_drops_rows_from_the_top_when_the_cursor_is_at_the_bottom() -> None:
    remote = _remote(4, 5, ["a", "b", "c", "d", "e"], cursor_row=4, cursor_col=0)
    out = compose(remote, 4, 3, None)
    assert out.text_lines() == ["c", "d", "e"]
    assert out.cursor_row == 2


def test_crop_through_a_wide_character_blanks_it() -> None:
    row = Row(("a", "中", ""), (DEFAULT_RENDITION,) * 3)
    assert fit_row(row, 2).cells == ("a", " ")
    assert fit_row(row, 2) is fit_row(row, 2)  # same object each frame: cheap to diff


def test_compose_keeps_modes_title_and_counters() -> None:
    modes = Modes(app_cursor_keys=True, mouse_reporting=1000)
    remote = _remote(5, 2, [], modes=modes, title="t", icon_name="i", bell_count=3, echo_ack=9)
    out = compose(remote, 7, 3, None)
    assert (out.modes, out.title, out.icon_name, out.bell_count, out.echo_ack) == (
        modes,
        "t",
        "i",
        3,
        9,
    )


def test_bar_through_the_display_shows_on_a_terminal_and_goes_away() -> None:
    remote = _remote(60, 4, ["line one", "line two"], cursor_row=1, cursor_col=8)
    display = Display()
    term = Emulator(60, 4)
    term.feed(display.open())
    message = text(9)
    assert message is not None
    for notification in (None, message, text(10), None):
        frame = compose(remote, 60, 4, notification)
        out = display.draw(frame)
        term.feed(out)
        assert term.snapshot().rows == frame.rows
    # The bar's blue tail is erased, not written as spaces.
    display.invalidate()
    out = display.draw(compose(remote, 60, 4, message))
    assert b"\x1b[K" in out

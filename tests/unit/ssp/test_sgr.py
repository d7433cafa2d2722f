"""The one SGR writer (ssp.sgr): what the display and protocol 2's frames both send."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ssp.screen import (
    BOLD,
    DEFAULT_COLOR,
    DEFAULT_RENDITION,
    DIM,
    UNDERLINE,
    Rendition,
    intern_rendition,
    palette_color,
    rgb_color,
)
from ssp.sgr import color_param, sgr_absolute, sgr_change
from termemu.emulator import Emulator

colors = st.one_of(
    st.just(DEFAULT_COLOR),
    st.integers(0, 255).map(palette_color),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(
        lambda rgb: rgb_color(*rgb)
    ),
)
renditions = st.builds(intern_rendition, colors, colors, st.integers(0, 255))


def test_colour_forms() -> None:
    assert color_param(palette_color(1), True) == "31"
    assert color_param(palette_color(9), False) == "101"  # bright: 100–107
    assert color_param(palette_color(200), True) == "38;5;200"
    assert color_param(rgb_color(1, 2, 3), False) == "48;2;1;2;3"
    assert color_param(DEFAULT_COLOR, True) == "39"


def test_absolute_starts_with_a_reset() -> None:
    bold_red = intern_rendition(palette_color(1), DEFAULT_COLOR, BOLD)
    assert sgr_absolute(bold_red) == "\x1b[0;1;31m"
    assert sgr_absolute(DEFAULT_RENDITION) == "\x1b[0m"


def test_change_is_relative_when_shorter() -> None:
    bold_underline = intern_rendition(DEFAULT_COLOR, DEFAULT_COLOR, BOLD | UNDERLINE)
    bold = intern_rendition(DEFAULT_COLOR, DEFAULT_COLOR, BOLD)
    assert sgr_change(bold_underline, bold) == "\x1b[24m"
    assert sgr_change(bold, bold) == ""
    dim = intern_rendition(DEFAULT_COLOR, DEFAULT_COLOR, DIM)
    assert sgr_change(bold, dim) in ("\x1b[22;2m", "\x1b[0;2m")


def _pen_after(*sequences: str) -> Rendition:
    emulator = Emulator(10, 2)
    emulator.feed(("".join(sequences) + "x").encode())
    return emulator.snapshot(0).rows[0].renditions[0]


@given(renditions, renditions)
def test_change_takes_an_emulator_from_one_pen_to_the_other(
    current: Rendition, target: Rendition
) -> None:
    assert _pen_after(sgr_absolute(current), sgr_change(current, target)) == target

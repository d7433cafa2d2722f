"""What skipped text leaves behind (`termemu.flood`): the pen, the character REP repeats, and
the rows a flood's plain lines make, computed from the text without drawing it."""

from __future__ import annotations

import re

from ssp.width import char_width
from termemu.lines import Line
from termemu.screen import EmulatorScreen
from termemu.sgr import Pen, apply_sgr_memo

RUN_CSI = re.compile(r"\x1b\[[0-9;:]*[mK]")  # the CSI a run may hold: SGR and EL
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
_CONTROLS = "\x07\x08\t\n\r"  # the common ones, stripped at C speed first
DEFAULT_PEN: Pen = (0, 0, 0)


def last_printed(text: str, columns: int) -> str | None:
    """The character `draw()` would store as `last_char` after `text`, None if no such."""
    # Line by line from the end (an SGR or EL holds no LF: the cuts split none), so that a
    # flood's CSIs are stripped from its last line only, not from all of it.
    end = len(text)
    while end > 0:
        start = text.rfind("\n", 0, end) + 1
        found = _last_in(text[start:end], columns)
        if found is not None:
            return found
        end = start - 1
    return None


def _last_in(text: str, columns: int) -> str | None:
    if "\x1b" in text:
        text = RUN_CSI.sub("", text)
    i = len(text.rstrip(_CONTROLS))
    while i:
        i -= 1
        char = text[i]
        if "\x20" <= char < "\x7f":
            return char
        if char < "\xa0":
            continue  # C0, DEL, C1: never drawn
        # Zero-width characters join a cell, wider-than-the-screen ones are dropped: neither
        # becomes the character REP repeats.
        if 0 < char_width(char) <= columns:
            return char
    return None


def pen_after(text: str, pen: Pen) -> Pen:
    """The pen after the SGRs in `text`, in order (those before the last full reset cannot
    matter)."""
    if "\x1b" not in text:
        return pen
    for params in _SGR.findall(text, _last_reset(text)):
        pen = apply_sgr_memo(params, pen)
    return pen


def _last_reset(text: str) -> int:
    """Where the last SGR that starts with a full reset (`CSI m`, `CSI 0 m`, `CSI 0 ; ... m`)
    begins in `text`, 0 if none is found (the pen is then folded from the start: slower, still
    right)."""
    best = max(text.rfind("\x1b[m"), text.rfind("\x1b[0m"))
    end = len(text)
    while (found := text.rfind("\x1b[0;", best + 1, end)) >= 0:
        if _SGR.match(text, found):  # not an EL such as CSI 0 ; 1 K
            return found
        end = found
    return max(best, 0)


def text_line(text: str, columns: int, screen: EmulatorScreen) -> Line:
    """A line scrolled in blank (in the background colour) with `text` drawn from column 0."""
    pen, bce = screen.pen, screen.bce
    if pen is bce:  # (the default pen: one list, at C speed)
        return Line(list(text.ljust(columns)), [pen] * columns, None)
    size = len(text)
    return Line(list(text.ljust(columns)), [pen] * size + [bce] * (columns - size), None)

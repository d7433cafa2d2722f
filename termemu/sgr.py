"""SGR (`CSI ... m`) parsing into the `ssp.screen` colour and attribute encoding.

pyte's own SGR handler turns colours into names ("red", "bfightmagenta"), loses the palette
index of bright colours, ignores dim and conceal, and cannot parse the colon forms
(`38:2::r:g:b`, `4:3`). We keep the palette index for 16/256 colours (the client maps them to its
own palette) and encode with `palette_color` / `rgb_color` directly.
"""

from __future__ import annotations

from functools import lru_cache

from ssp.screen import (
    BLINK,
    DEFAULT_COLOR,
    SGR_ATTRIBUTES,
    SGR_ATTRIBUTES_OFF,
    UNDERLINE,
    palette_color,
    rgb_color,
)

Pen = tuple[int, int, int]  # (fg, bg, attrs)

# Parameters that set one attribute bit, and those that clear some.
_SET_BITS = {code: bit for bit, code in SGR_ATTRIBUTES} | {
    6: BLINK,  # rapid blink: no terminal distinguishes it
    21: UNDERLINE,  # double underline (ECMA-48); xterm draws it as an underline
}
_CLEAR_BITS = {code: bits for bits, code in SGR_ATTRIBUTES_OFF}
_MAX_VALUE = 0xFFFF
_MEMO_PARAMS = 48  # longer SGR parameter strings are parsed each time, never kept


def _number(text: str) -> int:
    """A parameter's value; empty means 0; absurdly long digit strings saturate instead of
    hitting Python's int-conversion limit."""
    if not text:
        return 0
    if len(text) > 6:
        text = text.lstrip("0") or "0"
        if len(text) > 6:
            return _MAX_VALUE
    return int(text) if text.isdigit() else 0


def _extended_color_colon(parts: list[str]) -> int | None:
    """`38:5:n`, `38:2::r:g:b` (with colour-space id) or `38:2:r:g:b` (without)."""
    if len(parts) < 2:
        return None
    kind = _number(parts[1])
    if kind == 5 and len(parts) >= 3:
        index = _number(parts[2])
        return palette_color(index) if index <= 255 else None
    if kind == 2:
        rgb = parts[3:6] if len(parts) >= 6 else parts[2:5]
        if len(rgb) < 3:
            return None
        red, green, blue = (_number(v) for v in rgb)
        if max(red, green, blue) > 255:
            return None
        return rgb_color(red, green, blue)
    return None


def _extended_color_semicolon(values: list[list[str]], i: int) -> tuple[int | None, int]:
    """`38;5;n` or `38;2;r;g;b` starting at values[i] (the 38): (colour, next index)."""
    if i + 1 >= len(values):
        return None, len(values)
    kind = _number(values[i + 1][0])
    if kind == 5:
        if i + 2 >= len(values):
            return None, len(values)
        index = _number(values[i + 2][0])
        return (palette_color(index) if index <= 255 else None), i + 3
    if kind == 2:
        if i + 4 >= len(values):
            return None, len(values)
        red, green, blue = (_number(values[j][0]) for j in range(i + 2, i + 5))
        if max(red, green, blue) > 255:
            return None, i + 5
        return rgb_color(red, green, blue), i + 5
    # Unknown colour kind: skip just the kind so the rest is not misread as attributes.
    return None, i + 2


def apply_sgr_memo(params: str, pen: Pen) -> Pen:
    """`apply_sgr`, remembered for short parameter strings: applications repeat the same few
    SGRs over and over."""
    if len(params) <= _MEMO_PARAMS:
        return _apply_sgr_cached(params, pen)
    return apply_sgr(params, pen)


def apply_sgr(params: str, pen: Pen) -> Pen:
    """The pen after `CSI params m` (params without private marker or intermediates)."""
    fg, bg, attrs = pen
    if not params:
        return DEFAULT_COLOR, DEFAULT_COLOR, 0
    values = [p.split(":") for p in params.split(";")]
    i = 0
    while i < len(values):
        parts = values[i]
        code = _number(parts[0])
        i += 1
        if code == 0:
            fg, bg, attrs = DEFAULT_COLOR, DEFAULT_COLOR, 0
        elif code == 4 and len(parts) > 1:
            # 4:0 is "no underline"; 4:1..4:5 are underline styles (curly, dotted, ...).
            attrs = attrs & ~UNDERLINE if _number(parts[1]) == 0 else attrs | UNDERLINE
        elif code in _SET_BITS:
            attrs |= _SET_BITS[code]
        elif code in _CLEAR_BITS:
            attrs &= ~_CLEAR_BITS[code]
        elif 30 <= code <= 37:
            fg = palette_color(code - 30)
        elif 40 <= code <= 47:
            bg = palette_color(code - 40)
        elif 90 <= code <= 97:
            fg = palette_color(code - 90 + 8)
        elif 100 <= code <= 107:
            bg = palette_color(code - 100 + 8)
        elif code == 39:
            fg = DEFAULT_COLOR
        elif code == 49:
            bg = DEFAULT_COLOR
        elif code in (38, 48, 58):
            if len(parts) > 1:
                color = _extended_color_colon(parts)
            else:
                color, i = _extended_color_semicolon(values, i - 1)
            # 58 (underline colour) is parsed only so its arguments are not misread.
            if color is not None and code == 38:
                fg = color
            elif color is not None and code == 48:
                bg = color
        # Anything else (overline 53, fonts 10-19, ...) has no cell representation: ignored.
    return fg, bg, attrs


_apply_sgr_cached = lru_cache(maxsize=2048)(apply_sgr)

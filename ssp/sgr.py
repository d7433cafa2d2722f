"""Writing renditions as SGR sequences: the one writer for every place that draws a
`ssp.screen.Framebuffer` with escape sequences (the client's display on the real terminal,
protocol 2's frames for a stock client's emulator). The emulator's reader is termemu.sgr.

Colours: the 16 ANSI colours as 30–37/90–97 (40–47/100–107 for the background), which every
terminal and upstream's client understand, the rest of the palette as 38;5;n and 24-bit colour
as 38;2;r;g;b.
"""

from __future__ import annotations

from functools import lru_cache

from ssp.screen import (
    DEFAULT_COLOR,
    DEFAULT_RENDITION,
    SGR_ATTRIBUTES,
    SGR_ATTRIBUTES_OFF,
    Rendition,
    color_palette_index,
    color_rgb,
)

CSI = "\x1b["


def color_param(color: int, foreground: bool) -> str:
    """SGR parameters for one colour (39/49 for the default, or a value ssp.screen never
    makes)."""
    index = color_palette_index(color)
    if index is not None:
        if index < 8:
            return str((30 if foreground else 40) + index)
        if index < 16:
            return str((90 if foreground else 100) + index - 8)
        return f"{38 if foreground else 48};5;{index}"
    rgb = color_rgb(color)
    if rgb is None:
        return "39" if foreground else "49"
    red, green, blue = rgb
    return f"{38 if foreground else 48};2;{red};{green};{blue}"


def _set_params(rendition: Rendition) -> list[str]:
    """What to set after a full reset to reach `rendition`."""
    params = [str(code) for bit, code in SGR_ATTRIBUTES if rendition.attrs & bit]
    if rendition.fg != DEFAULT_COLOR:
        params.append(color_param(rendition.fg, True))
    if rendition.bg != DEFAULT_COLOR:
        params.append(color_param(rendition.bg, False))
    return params


@lru_cache(maxsize=4096)
def sgr_absolute(rendition: Rendition) -> str:
    """`CSI 0;... m`: the rendition whatever the pen was, so no earlier state leaks."""
    return CSI + ";".join(["0", *_set_params(rendition)]) + "m"


@lru_cache(maxsize=4096)
def sgr_change(current: Rendition, target: Rendition) -> str:
    """The shortest SGR taking the pen from `current` to `target`: the shorter of "reset,
    then set what `target` has" and "change only what differs" ("" when they are equal)."""
    if current == target:
        return ""
    if target == DEFAULT_RENDITION:
        return CSI + "m"
    fresh = _set_params(target)
    if current != DEFAULT_RENDITION:
        fresh.insert(0, "0")
    absolute = CSI + ";".join(fresh) + "m"

    changes: list[str] = []
    removed = current.attrs & ~target.attrs
    added = target.attrs & ~current.attrs
    for bits, code in SGR_ATTRIBUTES_OFF:
        if removed & bits:
            changes.append(str(code))
            added |= target.attrs & bits  # 22 clears bold and dim both: set again what stays
    changes += [str(code) for bit, code in SGR_ATTRIBUTES if added & bit]
    if target.fg != current.fg:
        changes.append(color_param(target.fg, True))
    if target.bg != current.bg:
        changes.append(color_param(target.bg, False))
    relative = CSI + ";".join(changes) + "m"
    return relative if len(relative) < len(absolute) else absolute

"""A fresh `Emulator` whose screen holds a given `ssp.screen.Framebuffer`.

The client of a protocol-2 session keeps one live emulator and feeds it the server's escape
sequences; when the server's diff is against an older screen than the one the emulator shows,
the client rebuilds an emulator from that screen with `restore` and feeds that instead.

What a framebuffer carries comes back exactly: cells and renditions (each line keeps the very
`Row` it came from, so the next snapshot of an untouched line is the same object), the cursor,
the forwarded modes, title, icon name, bell count and clipboard. What it does not carry is the
terminal's default: no scrolling region, autowrap on, ASCII character sets, the main screen,
no saved cursor; the pen is the one given (a framebuffer has none).
"""

from __future__ import annotations

from ssp.screen import CHOICE_MODES, FLAG_MODES, Framebuffer
from termemu.emulator import Emulator
from termemu.lines import Line
from termemu.sgr import Pen

DEFAULT_PEN: Pen = (0, 0, 0)


def restore(fb: Framebuffer, pen: Pen = DEFAULT_PEN, fast_path: bool = True) -> Emulator:
    """An emulator showing `fb`, drawing with `pen` (fg, bg, attrs) from now on."""
    emulator = Emulator(fb.width, fb.height, fast_path=fast_path)
    screen = emulator.screen
    screen.grid = [Line(list(row.cells), list(row.renditions), row) for row in fb.rows]
    screen.cursor.y = min(max(fb.cursor_row, 0), fb.height - 1)
    screen.cursor.x = min(max(fb.cursor_col, 0), fb.width - 1)
    for flag in FLAG_MODES:
        bit = flag.number << 5  # pyte's encoding of a DEC private mode
        if getattr(fb.modes, flag.name):
            screen.mode.add(bit)
        else:
            screen.mode.discard(bit)
    for choice in CHOICE_MODES:
        screen.choice_modes[choice.name] = getattr(fb.modes, choice.name)
    screen.title = fb.title
    screen.icon_name = fb.icon_name
    screen.bell_count = fb.bell_count
    screen.clipboard = fb.clipboard
    screen._set_pen(pen)
    return emulator

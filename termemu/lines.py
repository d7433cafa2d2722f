"""The screen's cell store: mutable lines that remember the immutable `Row` they last produced.

pyte's sparse dict of dicts makes every scroll move `lines` dict entries and marks every line
dirty. A screen here is a list of `Line`s (a list of cell strings and a list of renditions
each) that scrolls by list splicing, and each `Line` caches the `ssp.screen.Row` it last
produced, so a snapshot rebuilds only lines that changed and an unchanged (or merely scrolled)
line yields the identical `Row` object frame after frame.

A wide character takes two cells: the character, then "" (its right half); the rule, and how
a broken pair is repaired, is `ssp.screen`'s (`is_wide`, `unpair_span`, `repair_wide_pairs`).
"""

from __future__ import annotations

from ssp.screen import DEFAULT_RENDITION, Rendition, Row, blank_row, is_wide


class Line:
    """One mutable screen line and the `Row` it last produced (None once it changed)."""

    __slots__ = ("chars", "rends", "row")

    def __init__(self, chars: list[str], rends: list[Rendition], row: Row | None) -> None:
        self.chars = chars
        self.rends = rends
        self.row = row

    def freeze(self) -> Row:
        row = Row(tuple(self.chars), tuple(self.rends))
        self.row = row
        return row


def blank_line(width: int, rendition: Rendition) -> Line:
    return Line([" "] * width, [rendition] * width, blank_row(width, rendition))


def resize_grid(grid: list[Line], lines: int, columns: int, cursor_y: int) -> int:
    """Trim or pad each line of `grid` in place (no reflow) and make it `lines` long, keeping
    row `cursor_y`: lines below it go first, then lines from the top, as tmux does. Returns
    how many lines were removed from the top."""
    for line in grid:
        width = len(line.chars)
        if columns < width:
            del line.chars[columns:], line.rends[columns:]
            if is_wide(line.chars[-1]):
                line.chars[-1] = " "
        elif columns > width:
            line.chars.extend([" "] * (columns - width))
            line.rends.extend([DEFAULT_RENDITION] * (columns - width))
        line.row = None
    height = len(grid)
    removed = 0
    if lines < height:
        needed = height - lines
        below = min(max(height - 1 - cursor_y, 0), needed)
        del grid[height - below :]
        removed = needed - below
        del grid[:removed]
    elif lines > height:
        grid.extend(blank_line(columns, DEFAULT_RENDITION) for _ in range(lines - height))
    return removed

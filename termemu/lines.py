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

from ssp.screen import DEFAULT_COLOR, DEFAULT_RENDITION, Rendition, Row, blank_row, is_wide


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

    # --- as a scrollback entry (ssp.history.LazyRow): only once it scrolled off for good ----
    def history_row(self) -> Row:
        return history_row(self)

    def cells_count(self) -> int:
        return len(self.chars)


def history_row(line: Line) -> Row:
    """The line as scrollback keeps it: a `Row` without its trailing blanks (blank cells
    whose rendition shows nothing: default background, no attributes)."""
    chars = line.chars
    width = len(chars)
    if not width or chars[-1] != " ":
        return line.row or line.freeze()
    joined = "".join(chars)
    if len(joined) == width:  # one code point per cell: the common case, at C speed
        end = len(joined.rstrip(" "))
    else:
        end = width
        while end and chars[end - 1] == " ":
            end -= 1
    rends = line.rends
    tail = rends[end:]
    if len(set(map(id, tail))) == 1:
        if not _blank_looking(tail[0]):
            return line.row or line.freeze()
    else:
        keep = end
        for col in range(end, width):
            if not _blank_looking(rends[col]):
                keep = col + 1
        end = keep
    if end == width:
        return line.row or line.freeze()
    return Row(tuple(chars[:end]), tuple(rends[:end]))


def _blank_looking(rendition: Rendition) -> bool:
    return rendition.bg == DEFAULT_COLOR and rendition.attrs == 0


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

"""The one character-width table shared by server and client.

Upstream mosh asks each side's libc for widths, and a disagreement corrupts screens (mosh #234).
We control both ends, so both ask this module and nothing else.
"""

from __future__ import annotations

from functools import lru_cache

from wcwidth import wcwidth


@lru_cache(maxsize=4096)
def char_width(char: str) -> int:
    """Columns one code point takes: 0 (combining, zero-width), 1 or 2 (wide).

    Control characters, which never reach a cell, count as 0.
    """
    width = wcwidth(char)
    return width if width > 0 else 0


def text_width(text: str) -> int:
    """Columns a string of printable text takes."""
    if text.isascii():
        return len(text)
    return sum(char_width(c) for c in text)

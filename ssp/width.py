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


# The commonest wide characters (CJK ideographs, kana, Hangul syllables, CJK punctuation,
# full-width forms), as a regex character class: every one is two columns and three bytes in
# UTF-8 (the tests check it), so text of them and ASCII is measured and drawn a run at a time.
WIDE_CLASS = (
    "\u3001-\u3003\u3008-\u3011\u3041-\u3096\u30a1-\u30fa\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7a3\uff01-\uff60"
)


def text_width(text: str) -> int:
    """Columns a string of printable text takes."""
    if text.isascii():
        return len(text)
    return sum(char_width(c) for c in text)

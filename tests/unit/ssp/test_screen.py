"""The framebuffer and its binary diff: round trips, cost, scroll detection, hostile input."""

from __future__ import annotations

import dataclasses
import itertools
import random
import zlib
from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ssp.codec import DecodeError
from ssp.history import History
from ssp.screen import (
    BOLD,
    CHOICE_MODES,
    DEFAULT_COLOR,
    DEFAULT_RENDITION,
    FLAG_MODES,
    INVERSE,
    UNDERLINE,
    WIDE_RIGHT_HALF,
    Clipboard,
    Framebuffer,
    Modes,
    Rendition,
    Row,
    blank_row,
    color_palette_index,
    color_rgb,
    intern_rendition,
    is_wide,
    palette_color,
    repair_wide_pairs,
    rgb_color,
    unpair_span,
)

# --- strategies -----------------------------------------------------------------------------
colors = st.one_of(
    st.just(DEFAULT_COLOR),
    st.integers(0, 255).map(palette_color),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(
        lambda rgb: rgb_color(*rgb)
    ),
)
renditions = st.one_of(
    st.just(DEFAULT_RENDITION),
    st.builds(Rendition, fg=colors, bg=colors, attrs=st.integers(0, 255)),
)
# One code point that may stand alone in a cell (no controls, so never the US separator).
plain_chars = st.characters(
    codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\x1f"
)
NARROW = st.one_of(
    st.sampled_from(["a", "Z", "0", "~", " ", " ", "é", "e\u0301", "a\u0308\u0323", "\u2500"]),
    plain_chars,
)


@st.composite
def rows(draw: st.DrawFn, width: int) -> Row:
    cells: list[str] = []
    rends: list[Rendition] = []
    run = draw(renditions)
    while len(cells) < width:
        if draw(st.integers(0, 4)) == 0:
            run = draw(renditions)  # runs of one rendition, as real screens have
        if len(cells) + 2 <= width and draw(st.integers(0, 5)) == 0:
            cells += [draw(st.sampled_from(["中", "日", "😀", "ｱ"])), ""]
            rends += [run, run]
        else:
            cells.append(draw(NARROW))
            rends.append(run)
    return Row(tuple(cells), tuple(rends))


@st.composite
def any_width_rows(draw: st.DrawFn) -> Row:
    """Scrollback lines keep their own width (0 when the line was blank)."""
    return draw(rows(draw(st.integers(0, 30))))


@st.composite
def histories(draw: st.DrawFn) -> History:
    """A store with some lines kept and, sometimes, some evicted."""
    store = History(limit=draw(st.integers(0, 20)))
    store.skip(draw(st.integers(0, 5)))
    store.extend_rows(draw(st.lists(any_width_rows(), max_size=25)))
    store.extend_text(draw(st.lists(st.text("ab c", max_size=8), max_size=5)), 8)
    return store


modes = st.builds(
    Modes,
    **{flag.name: st.booleans() for flag in FLAG_MODES},
    **{choice.name: st.sampled_from((0, *choice.numbers)) for choice in CHOICE_MODES},
)
clipboards = st.one_of(
    st.none(),
    st.builds(
        Clipboard,
        serial=st.integers(0, 2**40),
        selection=st.sampled_from(["c", "p", "s", "cp", ""]),
        data=st.text(max_size=40),
    ),
)


@st.composite
def framebuffers(
    draw: st.DrawFn, width: int | None = None, height: int | None = None
) -> Framebuffer:
    w = width if width is not None else draw(st.integers(1, 30))
    h = height if height is not None else draw(st.integers(1, 12))
    blank_or_row = st.one_of(st.just(blank_row(w)), rows(w))
    return Framebuffer(
        width=w,
        height=h,
        rows=draw(st.lists(blank_or_row, min_size=h, max_size=h)),
        cursor_row=draw(st.integers(0, h - 1)),
        cursor_col=draw(st.integers(0, w - 1)),
        modes=draw(modes),
        title=draw(st.text(max_size=20)),
        icon_name=draw(st.text(max_size=10)),
        bell_count=draw(st.integers(0, 10**6)),
        clipboard=draw(clipboards),
        echo_ack=draw(st.integers(0, 2**63)),
        farewell=draw(st.sampled_from(["", "the session was killed"])),
        alternate_screen=draw(st.booleans()),
    )


@st.composite
def successors(draw: st.DrawFn, old: Framebuffer) -> Framebuffer:
    """A plausible next frame: scrolled, some rows and fields changed, sometimes resized."""
    kind = draw(st.sampled_from(["same-size", "scroll", "resize", "independent"]))
    if kind == "independent":
        new = draw(framebuffers())
    elif kind == "resize":
        new = draw(framebuffers())
        # keep some of the old text where it fits, as a resized terminal does
        for i in range(min(old.height, new.height)):
            if old.width == new.width and draw(st.booleans()):
                new.rows[i] = old.rows[i]
    else:
        new = old.copy()
        if kind == "scroll" and old.height > 1:
            shift = draw(st.integers(1, old.height - 1))
            new.rows = old.rows[shift:] + [
                draw(st.one_of(st.just(blank_row(old.width)), rows(old.width)))
                for _ in range(shift)
            ]
        for _ in range(draw(st.integers(0, 3))):
            new.rows[draw(st.integers(0, old.height - 1))] = draw(rows(old.width))
        if draw(st.booleans()):
            new.cursor_row = draw(st.integers(0, old.height - 1))
            new.cursor_col = draw(st.integers(0, old.width - 1))
        if draw(st.booleans()):
            new.modes = draw(modes)
        if draw(st.booleans()):
            new.title = draw(st.text(max_size=20))
        if draw(st.booleans()):
            new.icon_name = draw(st.text(max_size=10))
        if draw(st.booleans()):
            new.bell_count += draw(st.integers(0, 3))
        if draw(st.booleans()):
            new.clipboard = draw(clipboards)
        if draw(st.booleans()):
            new.echo_ack = draw(st.integers(0, 2**63))
    return new


def _snapshot(fb: Framebuffer) -> tuple[object, ...]:
    return (
        fb.width,
        fb.height,
        tuple(fb.rows),
        fb.cursor_row,
        fb.cursor_col,
        fb.modes,
        fb.title,
        fb.icon_name,
        fb.bell_count,
        fb.clipboard,
        fb.echo_ack,
        fb.farewell,
        fb.alternate_screen,
        fb.history_end,
    )


def _random_screen(rng: random.Random, width: int = 80, height: int = 24) -> Framebuffer:
    alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,-_/$#"
    return Framebuffer(
        width=width,
        height=height,
        rows=[
            Row(tuple(rng.choice(alphabet) for _ in range(width)), (DEFAULT_RENDITION,) * width)
            for _ in range(height)
        ],
    )


def _text_row(text: str, width: int = 80, rendition: Rendition = DEFAULT_RENDITION) -> Row:
    cells = tuple(text.ljust(width)[:width])
    return Row(cells, (rendition,) * width)


# --- round trips ----------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.data())
def test_diff_apply_round_trip(data: st.DataObject) -> None:
    old = data.draw(framebuffers(), label="old")
    new = data.draw(successors(old), label="new")
    before_old, before_new = _snapshot(old), _snapshot(new)
    diff = new.diff_from(old)
    assert _snapshot(old) == before_old and _snapshot(new) == before_new  # diffing is pure
    target = old.copy()
    target.apply(diff)
    assert target == new
    assert _snapshot(target) == before_new
    assert target.text_lines() == new.text_lines()
    assert (diff == b"") == (new == old)


# For each field of Framebuffer, the values a frame may change it to. A field added to
# Framebuffer without an entry here fails the test below: the entry is what makes it check
# that the diff carries the new field.
_FIELD_VALUES: dict[str, Callable[[Framebuffer], st.SearchStrategy[object]]] = {
    "rows": lambda fb: st.lists(rows(fb.width), min_size=fb.height, max_size=fb.height),
    "cursor_row": lambda fb: st.integers(0, fb.height - 1),
    "cursor_col": lambda fb: st.integers(0, fb.width),  # == width: pending wrap
    "modes": lambda fb: modes,
    "title": lambda fb: st.text(max_size=20),
    "icon_name": lambda fb: st.text(max_size=10),
    "bell_count": lambda fb: st.integers(0, 10**6),
    "clipboard": lambda fb: clipboards,
    "echo_ack": lambda fb: st.integers(0, 2**63),
    "farewell": lambda fb: st.text(max_size=30),
    "alternate_screen": lambda fb: st.booleans(),
    # history_end and history (the store it reads lines from) change together: see below
    "history_end": lambda fb: st.integers(0, 60),
    "history": lambda fb: histories(),
}
_GEOMETRY = ("width", "height")


def _differing_only_in(data: st.DataObject, base: Framebuffer, name: str) -> Framebuffer:
    variant = base.copy()
    if name in _GEOMETRY:
        # A size cannot change alone: the rows (and a cursor beyond the new edge) change too.
        size = {"width": base.width, "height": base.height}
        size[name] = data.draw(st.integers(1, 30).filter(lambda n: n != size[name]))
        resized = data.draw(framebuffers(**size))
        variant.width, variant.height, variant.rows = resized.width, resized.height, resized.rows
        variant.cursor_row = min(base.cursor_row, resized.height - 1)
        variant.cursor_col = min(base.cursor_col, resized.width - 1)
        return variant
    assert name in _FIELD_VALUES, f"Framebuffer.{name} is new: give it values in _FIELD_VALUES"
    if name in ("history_end", "history"):
        # A new end comes with a store holding (some of) the lines up to it; a new store
        # alone changes no line of the state.
        store = data.draw(histories(), label="store")
        variant.history = store
        if name == "history_end":
            end = data.draw(st.integers(0, store.end), label="history_end")
            assume(end != base.history_end)
            variant.history_end = end
        return variant
    value = data.draw(_FIELD_VALUES[name](base), label=name)
    assume(value != getattr(base, name))
    setattr(variant, name, value)
    return variant


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Framebuffer)])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_diff_carries_every_field(name: str, data: st.DataObject) -> None:
    base = data.draw(framebuffers(), label="base")
    variant = _differing_only_in(data, base, name)
    applied = base.copy()
    applied.apply(variant.diff_from(base))
    # Field by field rather than ==, which is written by hand and could forget a field too.
    for field in dataclasses.fields(Framebuffer):
        if field.name == "history":  # a source of lines: compare the lines it gives
            assert history_lines(applied, base.history_end) == history_lines(
                variant, base.history_end
            )
            continue
        assert getattr(applied, field.name) == getattr(variant, field.name), field.name


def history_lines(fb: Framebuffer, after: int) -> tuple[int, list[Row]]:
    """The scrollback lines `fb` holds after line `after`: (how many are missing, the rest)."""
    if fb.history_end <= after:
        return 0, []
    if fb.history is None:
        return fb.history_end - after, []
    _, lines = fb.history.rows(after, fb.history_end)
    return fb.history_end - after - len(lines), lines


@settings(max_examples=100, deadline=None)
@given(framebuffers())
def test_equal_frames_give_an_empty_diff(fb: Framebuffer) -> None:
    assert fb.diff_from(fb) == b""
    assert fb.diff_from(fb.copy()) == b""
    # Equal but not identical rows (rebuilt from their cells) also cost nothing.
    rebuilt = fb.copy()
    rebuilt.rows = [Row(tuple(r.cells), tuple(r.renditions)) for r in fb.rows]
    assert rebuilt.diff_from(fb) == b""
    empty = fb.copy()
    empty.apply(b"")
    assert empty == fb


@settings(max_examples=60, deadline=None)
@given(st.lists(framebuffers(width=12, height=5), min_size=2, max_size=6))
def test_a_chain_of_diffs_reproduces_every_frame(frames: list[Framebuffer]) -> None:
    mirror = frames[0].copy()
    for previous, frame in itertools.pairwise(frames):
        mirror.apply(frame.diff_from(previous))
        assert mirror == frame


def test_size_change_round_trips_both_ways() -> None:
    small = Framebuffer(width=10, height=3, cursor_row=2, cursor_col=9)
    small.rows[0] = Row(("中", "", *"abcdefgh"), (DEFAULT_RENDITION,) * 10)
    big = _random_screen(random.Random(1))
    big.cursor_row, big.cursor_col = 23, 79
    for old, new in ((small, big), (big, small)):
        target = old.copy()
        target.apply(new.diff_from(old))
        assert target == new
        assert (target.width, target.height) == (new.width, new.height)


def test_wide_and_combining_cells_survive() -> None:
    fb = Framebuffer(width=8, height=2)
    bold_red = intern_rendition(palette_color(1), DEFAULT_COLOR, BOLD)
    fb.rows[0] = Row(
        ("中", "", "e\u0301", "x", "😀", "", " ", "a\u0308"),
        (bold_red, bold_red, DEFAULT_RENDITION, DEFAULT_RENDITION) + (bold_red,) * 4,
    )
    fb.rows[1] = Row(("\u0301", "a", "b", " ", " ", "c", " ", " "), (DEFAULT_RENDITION,) * 8)
    target = Framebuffer(width=8, height=2)
    target.apply(fb.diff_from(Framebuffer(width=8, height=2)))
    assert target.rows[0].cells == fb.rows[0].cells
    assert target.rows[0].renditions == fb.rows[0].renditions
    assert target.rows[1] == fb.rows[1]
    assert target.rows[0].text == "中e\u0301x😀 a\u0308"


# --- cost -----------------------------------------------------------------------------------
def test_one_line_scroll_costs_one_line_not_a_repaint() -> None:
    rng = random.Random(7)
    old = _random_screen(rng)
    old.cursor_row, old.cursor_col = 23, 2
    new = old.copy()
    new.rows = [*old.rows[1:], _text_row("$ ls -la /usr/share/doc | head")]
    new.cursor_col = 30
    scroll = new.diff_from(old)
    repaint = new.diff_from(Framebuffer())
    assert len(scroll) < 200
    assert len(scroll) * 10 < len(repaint)
    target = old.copy()
    target.apply(scroll)
    assert target == new


@pytest.mark.parametrize("shift", [1, 2, 5, 23])
def test_multi_line_scroll_is_detected(shift: int) -> None:
    old = _random_screen(random.Random(shift))
    new = old.copy()
    new.rows = old.rows[shift:] + [blank_row(80)] * shift
    diff = new.diff_from(old)
    assert len(diff) < 10  # a scroll count, and no rows: the new lines are blank
    target = old.copy()
    target.apply(diff)
    assert target == new


def test_one_changed_character_is_cheap() -> None:
    old = _random_screen(random.Random(8))
    new = old.copy()
    row = list(new.rows[10].cells)
    row[40] = "#" if row[40] != "#" else "@"
    new.rows[10] = Row(tuple(row), new.rows[10].renditions)
    new.cursor_col = 41
    diff = new.diff_from(old)
    assert len(diff) < 40 * 3  # the whole changed row, uncompressed
    assert len(zlib.compress(diff)) < 140
    # A typed character at the prompt of an otherwise blank screen is what costs < 40 bytes.
    prompt = Framebuffer()
    prompt.rows[0] = _text_row("$ ")
    prompt.cursor_col = 2
    typed = prompt.copy()
    typed.rows[0] = _text_row("$ l")
    typed.cursor_col = 3
    assert len(typed.diff_from(prompt)) < 40
    target = prompt.copy()
    target.apply(typed.diff_from(prompt))
    assert target == typed


def test_runs_and_blanks_are_encoded_compactly() -> None:
    fb = Framebuffer()
    inverse = intern_rendition(DEFAULT_COLOR, palette_color(4), INVERSE | UNDERLINE)
    fb.rows[3] = Row(tuple("status line".ljust(80)), (inverse,) * 80)
    diff = fb.diff_from(Framebuffer())
    assert len(diff) < 40  # one text run and one erase run, not 80 cells


# --- hostile diffs --------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(framebuffers(width=10, height=4), st.binary(max_size=64))
def test_random_bytes_raise_decode_error_and_change_nothing(
    fb: Framebuffer, garbage: bytes
) -> None:
    before = _snapshot(fb)
    try:
        fb.apply(garbage)
    except DecodeError:
        assert _snapshot(fb) == before
    if garbage and (garbage[0] == 0 or garbage[0] > 14):  # 14: the highest tag
        assert _snapshot(fb) == before  # no such tag: rejected outright


@pytest.mark.parametrize("tag", [0, 12, 13, 14, 15, 127, 128, 255])
def test_unknown_tag_raises(tag: int) -> None:
    fb = Framebuffer()
    with pytest.raises(DecodeError):
        fb.apply(bytes([tag]))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_truncated_diff_raises_and_changes_nothing(data: st.DataObject) -> None:
    width = data.draw(st.integers(1, 30))
    old = data.draw(framebuffers(width=width, height=3))
    new = old.copy()
    new.rows[1] = data.draw(rows(width))
    diff = new.diff_from(old)
    if not diff:
        return
    target = old.copy()
    before = _snapshot(target)
    for cut in range(1, len(diff)):
        with pytest.raises(DecodeError):
            target.apply(diff[:cut])
        assert _snapshot(target) == before


def test_a_bad_element_after_good_ones_changes_nothing() -> None:
    old = Framebuffer(width=20, height=4)
    new = old.copy()
    new.title = "changed"
    new.bell_count = 3
    new.rows[0] = _text_row("hello", 20)
    target = old.copy()
    with pytest.raises(DecodeError):
        target.apply(new.diff_from(old) + b"\xff")
    assert target == old and target.title == "" and target.rows[0] == blank_row(20)


@pytest.mark.parametrize(
    "make_diff",
    [
        # a row diff for a wider screen
        lambda: _with_row(Framebuffer(width=30, height=4), 0, "x" * 30).diff_from(
            Framebuffer(width=30, height=4)
        ),
        # a row below the bottom
        lambda: _with_row(Framebuffer(width=20, height=10), 9, "x").diff_from(
            Framebuffer(width=20, height=10)
        ),
        # a cursor off screen
        lambda: _with_cursor(Framebuffer(width=20, height=10), 9, 3).diff_from(
            Framebuffer(width=20, height=10)
        ),
        # a scroll by the whole height
        lambda: bytes([9, 4]),
        lambda: bytes([9, 0]),
        # an absurd size
        lambda: bytes([1, 0, 5]),
        lambda: bytes([1, 0x80, 0x80, 0x01, 5]),  # width 16384
        # an endless varint
        lambda: bytes([6]) + b"\xff" * 20,
        # bad utf-8 in the title
        lambda: bytes([4, 2, 0xC3, 0x28]),
    ],
)
def test_diffs_that_do_not_fit_this_frame_raise(make_diff: object) -> None:
    assert callable(make_diff)
    target = Framebuffer(width=20, height=4)
    before = _snapshot(target)
    with pytest.raises(DecodeError):
        target.apply(make_diff())
    assert _snapshot(target) == before


def _with_row(fb: Framebuffer, index: int, text: str) -> Framebuffer:
    fb.rows[index] = _text_row(text, fb.width)
    return fb


def _with_cursor(fb: Framebuffer, row: int, col: int) -> Framebuffer:
    fb.cursor_row, fb.cursor_col = row, col
    return fb


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(DecodeError, ValueError)


# --- known gaps -----------------------------------------------------------------------------
def test_clearing_the_clipboard_round_trips() -> None:
    old = Framebuffer(width=10, height=2, clipboard=Clipboard(1, "c", "c2VjcmV0"))
    new = old.copy()
    new.clipboard = None
    assert new != old
    diff = new.diff_from(old)
    assert diff != b""
    target = old.copy()
    target.apply(diff)
    assert target == new


def test_pending_wrap_cursor_survives_a_resize() -> None:
    old = Framebuffer(width=80, height=24, cursor_row=3, cursor_col=40)
    # at the right margin, pending wrap
    new = Framebuffer(width=40, height=24, cursor_row=3, cursor_col=40)
    target = old.copy()
    target.apply(new.diff_from(old))
    assert target == new


# --- rows and copies ------------------------------------------------------------------------
def test_rows_are_immutable() -> None:
    row = _text_row("abc", 5)
    with pytest.raises(AttributeError):
        row.cells = ("x",) * 5
    with pytest.raises(AttributeError):
        row.renditions = (DEFAULT_RENDITION,) * 5
    with pytest.raises(AttributeError):
        row.extra = 1
    assert isinstance(row.cells, tuple) and isinstance(row.renditions, tuple)
    assert row.text == "abc  "
    assert hash(row) == hash(_text_row("abc", 5))
    assert row == _text_row("abc", 5) and row != _text_row("abd", 5)
    with pytest.raises(ValueError):
        Row(("a", "b"), (DEFAULT_RENDITION,))


def test_row_attributes_cannot_be_deleted() -> None:
    row = _text_row("abc", 5)
    with pytest.raises(AttributeError):
        del row.cells


def test_renditions_are_frozen_and_interned() -> None:
    a = intern_rendition(palette_color(3), rgb_color(1, 2, 3), BOLD)
    assert a is intern_rendition(palette_color(3), rgb_color(1, 2, 3), BOLD)
    with pytest.raises(AttributeError):
        a.fg = 0  # type: ignore[misc]
    assert color_palette_index(a.fg) == 3
    assert color_rgb(a.bg) == (1, 2, 3)
    assert color_rgb(a.fg) is None and color_palette_index(a.bg) is None
    assert color_palette_index(DEFAULT_COLOR) is None


def test_copy_is_independent() -> None:
    original = _random_screen(random.Random(9))
    original.title = "t"
    copy = original.copy()
    assert copy == original and copy is not original and copy.rows is not original.rows
    copy.rows[0] = _text_row("changed")
    copy.title = "other"
    copy.cursor_row = 5
    copy.bell_count += 1
    copy.modes = Modes(bracketed_paste=True)
    assert original.rows[0] != copy.rows[0]
    assert original.title == "t" and original.cursor_row == 0 and original.bell_count == 0
    assert original.modes == Modes()
    assert original != copy
    # and the other way round
    again = original.copy()
    original.rows[1] = _text_row("changed too")
    assert again.rows[1] != original.rows[1]


def test_apply_does_not_share_the_row_list_with_the_base() -> None:
    base = Framebuffer(width=10, height=3)
    derived = base.copy()
    new = base.copy()
    new.rows[2] = _text_row("x", 10)
    derived.apply(new.diff_from(base))
    assert base.rows[2] == blank_row(10)
    assert derived.rows[2] == new.rows[2]


def test_framebuffer_validates_its_shape() -> None:
    with pytest.raises(ValueError):
        Framebuffer(width=0, height=5)
    with pytest.raises(ValueError):
        Framebuffer(width=5, height=0)
    with pytest.raises(ValueError):
        Framebuffer(width=5, height=2, rows=[blank_row(5)])
    with pytest.raises(ValueError):
        Framebuffer(width=5, height=1, rows=[blank_row(6)])
    assert Framebuffer(width=3, height=2).text_lines() == ["", ""]
    assert hash(blank_row(3)) == hash(blank_row(3))


# --- the forwarded-modes table ----------------------------------------------------------------
def test_the_modes_table_names_every_modes_field_with_its_default() -> None:
    declared = [(f.name, f.default) for f in dataclasses.fields(Modes)]
    tabled = [(m.name, m.default) for m in FLAG_MODES] + [(c.name, 0) for c in CHOICE_MODES]
    assert declared == tabled
    numbers = [m.number for m in FLAG_MODES] + [n for c in CHOICE_MODES for n in c.numbers]
    assert len(numbers) == len(set(numbers))


def test_the_modes_wire_encoding_is_unchanged() -> None:
    """Native wire bytes of a modes change: one flags varint (bit i is FLAG_MODES[i]), then
    one varint per CHOICE_MODES entry. Older peers decode exactly this."""
    new = Framebuffer(
        modes=Modes(
            app_keypad=True,
            focus_events=True,
            cursor_visible=False,
            mouse_reporting=1002,
            mouse_encoding=1006,
        )
    )
    # tag 3; flags 0b001010 = app_keypad (bit 1) | focus_events (bit 3); 1002 = ea 07; 1006 = ee 07
    assert new.diff_from(Framebuffer()) == bytes([3, 0b001010, 0xEA, 0x07, 0xEE, 0x07])


# --- the wide-cell rule -------------------------------------------------------------------------
def test_is_wide_is_the_left_half_of_a_wide_character() -> None:
    assert is_wide("中") and is_wide("中\u0301")
    assert not is_wide("a") and not is_wide(" ") and not is_wide(WIDE_RIGHT_HALF)


@pytest.mark.parametrize(
    ("cells", "start", "end", "expected"),
    [
        (["中", "", "a", "b"], 1, 2, [" ", "", "a", "b"]),  # cuts a pair on the left
        (["a", "中", "", "b"], 0, 2, ["a", "中", " ", "b"]),  # cuts a pair on the right
        (["中", "", "中", ""], 1, 3, [" ", "", "中", " "]),  # both
        (["中", "", "a", "b"], 0, 2, ["中", "", "a", "b"]),  # a whole pair: nothing to do
        (["a", "中", ""], 0, 3, ["a", "中", ""]),  # to the end of the row
    ],
)
def test_unpair_span_blanks_the_other_half_of_a_cut_pair(
    cells: list[str], start: int, end: int, expected: list[str]
) -> None:
    unpair_span(cells, start, end)
    assert cells == expected


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["中", "", "a"], ["中", "", "a"]),
        (["", "a", "b"], [" ", "a", "b"]),  # a right half with no left half
        (["a", "", "b"], ["a", " ", "b"]),
        (["中", "a", "b"], [" ", "a", "b"]),  # a left half with no right half
        (["a", "b", "中"], ["a", "b", " "]),  # a left half in the last column
        (["中", "", ""], ["中", "", " "]),
    ],
)
def test_repair_wide_pairs_blanks_lone_halves(cells: list[str], expected: list[str]) -> None:
    repair_wide_pairs(cells)
    assert cells == expected


@given(st.lists(st.sampled_from(["a", " ", "中", "", "é"]), min_size=1, max_size=12))
def test_a_repaired_row_has_only_whole_pairs(cells: list[str]) -> None:
    repair_wide_pairs(cells)
    for col, cell in enumerate(cells):
        if cell == WIDE_RIGHT_HALF:
            assert col > 0 and is_wide(cells[col - 1])
        if is_wide(cell):
            assert col + 1 < len(cells) and cells[col + 1] == WIDE_RIGHT_HALF

"""The client writes the session's scrollback into the real terminal's own history
(Display.write_history, scrollback mode). The real terminal here is our own emulator with a
history, which records lines exactly as tmux does (whole-screen scrolls of the main screen)."""

from __future__ import annotations

from mosh_client.display import Display
from mosh_client.overlay import compose
from ssp.history import History
from ssp.screen import DEFAULT_RENDITION, Framebuffer, Row, blank_row, intern_rendition
from termemu.emulator import Emulator

WIDTH, HEIGHT = 20, 5


def row(text: str, width: int = WIDTH) -> Row:
    return Row(tuple(text.ljust(width)[:width]), (DEFAULT_RENDITION,) * width)


def frame(texts: list[str], width: int = WIDTH, height: int = HEIGHT) -> Framebuffer:
    rows = [row(t, width) for t in texts] + [blank_row(width)] * (height - len(texts))
    return Framebuffer(width=width, height=height, rows=rows, cursor_row=len(texts) - 1)


class Terminal:
    """A real terminal stand-in: the display's bytes in, its screen and history out."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.history = History(limit=100_000)
        self.emulator = Emulator(width, height, history=self.history)

    def feed(self, data: bytes) -> None:
        self.emulator.feed(data)

    def lines(self) -> list[str]:
        _, rows = self.history.rows(0, self.history.end)
        return [r.text.rstrip() for r in rows]

    def screen(self) -> list[str]:
        return self.emulator.snapshot().text_lines()


def setup(first: Framebuffer) -> tuple[Display, Terminal]:
    display, terminal = Display(scrollback=True), Terminal(first.width, first.height)
    terminal.feed(display.open())
    terminal.feed(display.draw(first))
    return display, terminal


def test_lines_land_in_the_history_once_and_the_screen_is_the_frame() -> None:
    display, terminal = setup(frame(["a", "b", "c"]))
    lines = [row(f"old {n}") for n in range(12)]
    after = frame(["x", "y"])
    terminal.feed(display.write_history(lines, WIDTH, HEIGHT) + display.draw(after))
    assert terminal.lines() == [f"old {n}" for n in range(12)]
    assert terminal.screen() == after.text_lines()


def test_when_the_screen_scrolled_the_line_feeds_alone_do_it() -> None:
    before = frame([f"r{n}" for n in range(5)])
    display, terminal = setup(before)
    out = display.write_history([row("r0"), row("r1")], WIDTH, HEIGHT)
    assert b"r0" not in out and b"r1" not in out  # already on screen: nothing rewritten
    assert out.count(b"\n") == 2 and len(out) <= 12
    after = frame(["r2", "r3", "r4", "r5", "r6"])
    draw = display.draw(after)
    assert b"r2" not in draw and b"r5" in draw  # the scroll moved the rest
    terminal.feed(out + draw)
    assert terminal.lines() == ["r0", "r1"]
    assert terminal.screen() == after.text_lines()


def test_drawing_never_scrolls_anything_into_the_history() -> None:
    # Whole different rows, the same objects frame after frame as the server's: scrolling pays.
    rows = [row(chr(65 + n % 26) * (WIDTH - 2)) for n in range(40)]

    def scrolled(shift: int) -> Framebuffer:
        return Framebuffer(width=WIDTH, height=HEIGHT, rows=rows[shift : shift + HEIGHT])

    display, terminal = setup(scrolled(0))
    for shift in range(1, 30):  # the screen scrolls, its lines come by no history
        out = display.draw(scrolled(shift))
        assert len(out) < 60  # it did scroll rather than repaint
        terminal.feed(out)
        assert terminal.screen() == scrolled(shift).text_lines()
    terminal.feed(display.draw(frame(["full", "repaint"], width=WIDTH + 1)))
    display.invalidate()
    terminal.feed(display.draw(frame(["again"], width=WIDTH + 1)))
    assert terminal.lines() == []


def test_the_notification_bar_never_lands_in_the_history() -> None:
    remote = frame([f"r{n}" for n in range(5)])
    shown = compose(remote, WIDTH, HEIGHT, "mosh: Last contact 7 seconds ago.")
    display, terminal = setup(shown)
    terminal.feed(display.write_history([row("r0")], WIDTH, HEIGHT))
    after = compose(frame([f"r{n}" for n in range(1, 6)]), WIDTH, HEIGHT, "mosh: bar")
    terminal.feed(display.draw(after))
    assert terminal.lines() == ["r0"]
    assert terminal.screen() == after.text_lines()


def test_renditions_and_widths_of_history_lines() -> None:
    display, terminal = setup(frame(["a"]))
    red = intern_rendition(2, 0, 0)
    coloured = Row(tuple("redplain"), (red,) * 3 + (DEFAULT_RENDITION,) * 5)
    wide = Row(tuple("w" * (WIDTH + 5)), (DEFAULT_RENDITION,) * (WIDTH + 5))  # older, wider
    empty = Row((), ())
    terminal.feed(display.write_history([coloured, wide, empty], WIDTH, HEIGHT))
    terminal.feed(display.draw(frame(["a"])))
    _, rows = terminal.history.rows(0, terminal.history.end)
    assert rows[0].cells[:8] == coloured.cells and rows[0].renditions[:3] == (red,) * 3
    assert rows[1].text == "w" * WIDTH  # cut at the terminal's width
    assert rows[2].text == ""
    assert terminal.screen() == frame(["a"]).text_lines()


def test_without_scrollback_the_alternate_screen_is_used_and_with_it_never() -> None:
    assert b"\x1b[?1049h" in Display().open()
    with_history = Display(scrollback=True, alternate_screen=True)
    assert b"\x1b[?1049h" not in with_history.open()
    assert b"\x1b[?1049l" not in with_history.close()


def _output(display: Display, fb: Framebuffer, lines: list[Row] | None = None) -> bytes:
    """What the app writes for one frame: the screen switch, history lines (only on the main
    screen), then the frame (mosh_client.app `_frame_output`)."""
    switch = display.show_screen(fb.alternate_screen)
    history = [] if fb.alternate_screen else (lines or [])
    return switch + display.write_history(history, fb.width, fb.height) + display.draw(fb)


def test_the_applications_alternate_screen_is_the_terminals_and_adds_no_history() -> None:
    shell = frame(["$ vim", "p2"])
    display, terminal = setup(shell)
    editor = [f"line {n}" for n in range(HEIGHT)]
    for shift in range(4):  # the editor scrolls its own screen: nothing reaches the history
        screen = frame(editor[shift:] + [f"line {HEIGHT + n}" for n in range(shift)])
        screen.alternate_screen = True
        out = _output(display, screen)
        assert (b"\x1b[?1049h" in out) == (shift == 0)  # entered once
        terminal.feed(out)
        assert terminal.screen() == screen.text_lines()
    assert terminal.lines() == []
    back = frame(["$ vim", "p2", "$"])  # the shell's screen again, one line more
    out = _output(display, back, [row("earlier")])
    assert out.startswith(b"\x1b[?1049l")
    terminal.feed(out)
    assert terminal.lines() == ["earlier"]
    assert terminal.screen() == back.text_lines()
    assert b"\x1b[?1049l" not in display.close()  # already back on the main screen


def test_lines_wait_while_the_alternate_screen_shows() -> None:
    display, terminal = setup(frame(["a"]))
    editor = frame(["vim"])
    editor.alternate_screen = True
    terminal.feed(_output(display, editor, [row("scrolled before vim")]))
    assert terminal.lines() == []  # not written to the alternate screen, where it would vanish
    closing = display.close()
    assert b"\x1b[?1049l" in closing  # a client leaving mid-vim gives the main screen back

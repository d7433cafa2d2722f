"""Raw mode on a real pty pair: set on entry, restored exactly on every way out."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from mosh_client.terminal import (
    DEFAULT_SIZE,
    IUTF8,
    Attributes,
    NotATerminal,
    RawTerminal,
    raw_attributes,
    window_size,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def pty() -> Iterator[int]:
    """The slave side of a fresh pty (in its default cooked mode); the master is kept open."""
    master, slave = os.openpty()
    try:
        yield slave
    finally:
        os.close(slave)
        os.close(master)


def attrs(fd: int) -> Attributes:
    return termios.tcgetattr(fd)


def assert_raw(fd: int, *, opost: bool = False) -> None:
    iflag, oflag, cflag, lflag, _, _, cc = termios.tcgetattr(fd)
    assert not lflag & (termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN)
    assert not iflag & (termios.ICRNL | termios.IXON | termios.INLCR | termios.IGNCR)
    assert not iflag & (termios.ISTRIP | termios.BRKINT)
    assert iflag & IUTF8 == IUTF8
    assert bool(oflag & termios.OPOST) == opost
    assert cflag & termios.CSIZE == termios.CS8
    assert not cflag & termios.PARENB
    assert cc[termios.VMIN] == 1
    assert cc[termios.VTIME] == 0


def test_cooked_pty_to_start_with(pty: int) -> None:
    lflag = attrs(pty)[3]
    assert lflag & termios.ICANON  # otherwise the tests below prove nothing


def test_raw_inside_restored_after(pty: int) -> None:
    before = attrs(pty)
    with RawTerminal(pty) as terminal:
        assert terminal.is_raw
        assert terminal.saved == before
        assert_raw(pty)
    assert attrs(pty) == before
    assert not terminal.is_raw
    assert terminal.saved is None


def test_output_processing_can_be_kept(pty: int) -> None:
    before = attrs(pty)
    assert before[1] & termios.OPOST
    with RawTerminal(pty, output_processing=True):
        assert_raw(pty, opost=True)
        assert attrs(pty)[1] == before[1]
    assert attrs(pty) == before


def test_restored_after_exception(pty: int) -> None:
    before = attrs(pty)
    with pytest.raises(ZeroDivisionError), RawTerminal(pty):
        assert_raw(pty)
        _ = 1 / 0
    assert attrs(pty) == before


def test_restored_after_keyboard_interrupt(pty: int) -> None:
    before = attrs(pty)
    with pytest.raises(KeyboardInterrupt), RawTerminal(pty):
        raise KeyboardInterrupt
    assert attrs(pty) == before


def test_restored_after_failing_trio_task(pty: int) -> None:
    before = attrs(pty)
    seen_raw = []

    async def boom() -> None:
        await trio.sleep(0.01)
        raise RuntimeError("task failed")

    async def main() -> None:
        with RawTerminal(pty):
            seen_raw.append(not attrs(pty)[3] & termios.ICANON)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.sleep_forever)
                nursery.start_soon(boom)

    with pytest.raises(BaseExceptionGroup) as info:
        trio.run(main)
    assert info.group_contains(RuntimeError, match="task failed")
    assert seen_raw == [True]
    assert attrs(pty) == before


def test_restored_in_a_task_cancelled_by_a_failing_sibling(pty: int) -> None:
    before = attrs(pty)

    async def holder(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with RawTerminal(pty):
            task_status.started()
            await trio.sleep_forever()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(holder)
            assert_raw(pty)
            raise ValueError("sibling failed")

    with pytest.raises(BaseExceptionGroup) as info:
        trio.run(main)
    assert info.group_contains(ValueError)
    assert attrs(pty) == before


def test_restored_after_trio_cancellation(pty: int) -> None:
    before = attrs(pty)

    async def main() -> None:
        with trio.move_on_after(0.01), RawTerminal(pty):
            assert_raw(pty)
            await trio.sleep_forever()

    trio.run(main)
    assert attrs(pty) == before


def test_restore_and_reenter(pty: int) -> None:
    before = attrs(pty)
    with RawTerminal(pty) as terminal:
        raw = attrs(pty)
        terminal.restore()
        assert attrs(pty) == before
        assert not terminal.is_raw
        terminal.restore()  # idempotent
        assert attrs(pty) == before
        terminal.reenter()
        assert attrs(pty) == raw
        assert terminal.is_raw
    assert attrs(pty) == before


def test_reenter_reapplies_after_someone_else_changed_it(pty: int) -> None:
    with RawTerminal(pty) as terminal:
        raw = attrs(pty)
        # While we were stopped, the shell put its own settings back.
        assert terminal.saved is not None
        termios.tcsetattr(pty, termios.TCSANOW, terminal.saved)
        terminal.reenter()
        assert attrs(pty) == raw


def test_exit_after_restore_leaves_saved_state(pty: int) -> None:
    before = attrs(pty)
    with RawTerminal(pty) as terminal:
        terminal.restore()
    assert attrs(pty) == before


def test_suspend_is_cooked_while_stopped(pty: int) -> None:
    before = attrs(pty)
    during = []
    with RawTerminal(pty) as terminal:
        raw = attrs(pty)
        terminal.suspend(stop=lambda: during.append(attrs(pty)))
        assert during == [before]
        assert attrs(pty) == raw
    assert attrs(pty) == before


def test_suspend_reenters_even_if_stop_fails(pty: int) -> None:
    def stop() -> None:
        raise OSError("kill failed")

    with RawTerminal(pty) as terminal:
        raw = attrs(pty)
        with pytest.raises(OSError):
            terminal.suspend(stop=stop)
        assert attrs(pty) == raw


def test_reenter_outside_block_is_an_error(pty: int) -> None:
    with pytest.raises(RuntimeError):
        RawTerminal(pty).reenter()


def test_not_reentrant(pty: int) -> None:
    before = attrs(pty)
    terminal = RawTerminal(pty)
    with terminal, pytest.raises(RuntimeError):
        terminal.__enter__()
    assert attrs(pty) == before


def test_reusable_after_exit(pty: int) -> None:
    before = attrs(pty)
    terminal = RawTerminal(pty)
    with terminal:
        pass
    with terminal:
        assert_raw(pty)
    assert attrs(pty) == before


def test_pipe_is_not_a_terminal() -> None:
    read_end, write_end = os.pipe()
    try:
        with pytest.raises(NotATerminal, match="not a terminal"), RawTerminal(read_end):
            pass
    finally:
        os.close(read_end)
        os.close(write_end)


def test_closed_fd_is_not_a_terminal() -> None:
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    with pytest.raises(NotATerminal), RawTerminal(fd):
        pass


def test_raw_attributes_does_not_touch_its_argument(pty: int) -> None:
    before = attrs(pty)
    copy = [*before[:6], list(before[6])]
    raw_attributes(before)
    assert before == copy


def test_atexit_restores_a_block_never_left(pty: int) -> None:
    """A process that exits with raw mode still on gives the terminal back anyway."""
    before = attrs(pty)
    script = (
        "import sys\n"
        "from mosh_client.terminal import RawTerminal\n"
        "RawTerminal(int(sys.argv[1])).__enter__()\n"
        "raise SystemExit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(pty)],
        pass_fds=(pty,),
        cwd=REPO,
        timeout=30,
        check=False,
    )
    assert result.returncode == 3
    assert attrs(pty) == before


def test_atexit_raw_check_is_meaningful(pty: int) -> None:
    """Control for the test above: with os._exit (no atexit) the terminal stays raw."""
    script = (
        "import os, sys\n"
        "from mosh_client.terminal import RawTerminal\n"
        "RawTerminal(int(sys.argv[1])).__enter__()\n"
        "os._exit(0)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(pty)], pass_fds=(pty,), cwd=REPO, timeout=30, check=True
    )
    assert_raw(pty)


# --- window size -------------------------------------------------------------------------------


def set_size(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def test_window_size(pty: int) -> None:
    set_size(pty, 132, 43)
    assert window_size(pty) == (132, 43)


def test_window_size_of_unsized_pty_falls_back(pty: int) -> None:
    set_size(pty, 0, 0)
    assert window_size(pty) == DEFAULT_SIZE == (80, 24)
    set_size(pty, 100, 0)
    assert window_size(pty) == (100, 24)


def test_window_size_of_non_terminal_falls_back() -> None:
    read_end, write_end = os.pipe()
    try:
        assert window_size(read_end) == (80, 24)
    finally:
        os.close(read_end)
        os.close(write_end)

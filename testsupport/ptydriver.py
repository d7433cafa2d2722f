"""Run a terminal client (ours or upstream's) on a pty and time what it draws.

tmux's capture-pane is too coarse to time a keystroke's echo to the millisecond, so this driver
owns the pty itself: it writes keystrokes to the master side and feeds everything the client
draws into a terminal emulator (the daemon's own, which is tested against tmux), noting the time
each change became visible.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Mapping, Sequence

from ssp.screen import Framebuffer
from termemu.emulator import Emulator


class PtyClient:
    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        width: int = 80,
        height: int = 24,
    ) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        self.process = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        os.set_blocking(self.master, False)
        self.emulator = Emulator(width, height)
        self.output = bytearray()

    @property
    def screen(self) -> Framebuffer:
        return self.emulator.snapshot()

    def text(self) -> str:
        return "\n".join(self.screen.text_lines())

    def type(self, data: bytes) -> float:
        """Write keystrokes; return the time they were written."""
        os.write(self.master, data)
        return time.monotonic()

    def pump(self, timeout: float) -> bool:
        """Read what the client drew within `timeout`; True if anything arrived."""
        ready, _, _ = select.select([self.master], [], [], max(timeout, 0))
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except (BlockingIOError, OSError):
            return False
        if chunk:
            self.output += chunk
            self.emulator.feed(chunk)
            # The client's terminal queries (DA, DSR) would be answered by a real terminal.
            replies = self.emulator.take_replies()
            if replies:
                os.write(self.master, replies)
        return bool(chunk)

    def wait_for(
        self, predicate: Callable[[Framebuffer], bool], timeout: float = 10.0, what: str = ""
    ) -> float:
        """Wait until the screen satisfies `predicate`; return when it first did."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen
            if predicate(screen):
                return time.monotonic()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{self.text()}")
            self.pump(min(remaining, 0.5))

    def wait_for_text(self, text: str, timeout: float = 10.0) -> float:
        return self.wait_for(lambda s: text in "\n".join(s.text_lines()), timeout, repr(text))

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        os.close(self.master)

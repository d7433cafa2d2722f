"""The client: one nursery of input, network, render and signal tasks.

Whatever way it ends (`Ctrl-^ .`, the server shutting down, a signal, an exception), the
terminal's modes, cursor and screen are restored: the raw-mode context and `Display.close()`
sit in `finally` blocks around the nursery.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import sys
from dataclasses import dataclass

import trio

from mosh_client.client_args import ClientConfig
from mosh_client.display import Display
from mosh_client.escape import EscapeMachine, Quit, SendBytes, Suspend, rewrite_cursor_keys
from mosh_client.history_writer import HistoryFeed
from mosh_client.network import ClientNetwork
from mosh_client.overlay import compose, notification_refresh_interval, notification_text
from mosh_client.prediction import PredictionEngine
from mosh_client.terminal import RawTerminal, window_size
from ssp.lifecycle import Closed, Ending
from ssp.screen import Framebuffer
from ssp.transport import Event, RemoteStateChanged

MIN_FRAME_INTERVAL = 0.010  # at most 100 draws a second; the network paces frames anyway
GUESS_TICK = 0.05


@dataclass
class ExitStatus:
    clean: bool = False
    ever_connected: bool = False
    server_ended: bool = False  # the server asked to shut down (the shell exited, a kill...)
    farewell: str = ""  # the server's reason, when it gave one


class ClientApp:
    def __init__(self, config: ClientConfig, stdin_fd: int = 0, stdout_fd: int = 1) -> None:
        self.config = config
        self._in = stdin_fd
        self._out = stdout_fd
        self.size = window_size(stdout_fd)
        # The window is also a protocol-2 session's first screen (see mosh_client.proto2_screen).
        self.network = ClientNetwork(
            config.key, config.host, config.port, self._on_events, size=self.size
        )
        # moshd sends its scrollback (mosh_client.history_writer): the main screen is then the
        # real terminal's, never its alternate screen. A stock mosh-server sends none.
        self.history = HistoryFeed()
        self.display = Display(
            alternate_screen=config.alternate_screen,
            title_prefix=config.title_prefix,
            scrollback=self.network.protocol == "native",
        )
        self.escape = EscapeMachine(config.escape_key)
        self.prediction = PredictionEngine(config.prediction)
        self.started = trio.current_time()
        self._quitting = False
        self._done = trio.Event()
        self._render_wanted = trio.Event()
        self._backlog = b""  # drawn but not yet taken by the terminal
        self._message: str | None = None  # a status shown in the bar (e.g. while quitting)
        self.status = ExitStatus()

    # --- lifecycle ---------------------------------------------------------------------------
    async def run(self) -> ExitStatus:
        terminal = RawTerminal(self._in)
        saved_flags = _nonblocking({self._in, self._out})
        try:
            with terminal:
                self._write_now(self.display.open())
                try:
                    self._push_resize(*self.size)
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self.network.run)
                        nursery.start_soon(self._input_task, terminal)
                        nursery.start_soon(self._render_task)
                        nursery.start_soon(self._signal_task, terminal)
                        await self._done.wait()
                        nursery.cancel_scope.cancel()
                finally:
                    self._write_now(self.display.close())
        finally:
            _restore_flags(saved_flags)
        return self.status

    def quit(self, message: str = "Exiting on user request...") -> None:
        if not self._quitting:
            self._quitting = True
            self._message = message
            self.network.endpoint.start_shutdown(trio.current_time())
            self.network.wake()
            self._want_render()

    # --- events from the network --------------------------------------------------------------
    def _on_events(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, RemoteStateChanged):
                # Every new state, not only the one drawn next: each brings its own lines.
                self.history.take(self.network.endpoint.remote_state)
            elif isinstance(event, Closed):
                self._session_over(event.ending)
        self._want_render()

    def _session_over(self, ending: Ending) -> None:
        """The connection has ended (ssp.lifecycle): whoever began it, the client is done."""
        self.status.clean = ending.clean
        self.status.server_ended = ending is Ending.PEER_CLOSED
        self.status.farewell = self.network.endpoint.remote_state.farewell
        self.status.ever_connected = self.network.endpoint.last_heard is not None
        self._done.set()

    # --- input ---------------------------------------------------------------------------------
    async def _input_task(self, terminal: RawTerminal) -> None:
        while True:
            await trio.lowlevel.wait_readable(self._in)
            try:
                data = os.read(self._in, 16384)
            except BlockingIOError:
                continue
            if not data:
                self.quit("Exiting on end of input...")
                return
            for action in self.escape.feed(data):
                if isinstance(action, Quit):
                    self.quit()
                elif isinstance(action, Suspend):
                    self._suspend(terminal)
                elif isinstance(action, SendBytes):
                    self._send_keys(action.data)

    def _send_keys(self, data: bytes) -> None:
        if self._quitting:
            return
        modes = self.network.endpoint.remote_state.modes
        data = rewrite_cursor_keys(data, modes.app_cursor_keys)
        if data == b"\x0c":  # Ctrl-L alone: also repaint our own terminal
            self.display.invalidate()
            self._want_render()
        endpoint = self.network.endpoint
        now = trio.current_time()
        self.prediction.new_user_input(data, endpoint.remote_state, endpoint.last_sent_num, now)
        stream = endpoint.local_state.copy()
        stream.push_keystroke(data)
        endpoint.set_local_state(stream, now)
        # Draw the guess before the keystroke even leaves: that is the whole point of it.
        self._draw_now()
        self.network.wake()

    def _push_resize(self, width: int, height: int) -> None:
        endpoint = self.network.endpoint
        stream = endpoint.local_state.copy()
        stream.push_resize(width, height)
        endpoint.set_local_state(stream, trio.current_time())
        self.network.wake()

    # --- rendering ----------------------------------------------------------------------------
    def _want_render(self) -> None:
        self._render_wanted.set()

    async def _render_task(self) -> None:
        last_draw = -math.inf
        while True:
            with trio.move_on_at(self._next_timed_redraw(trio.current_time())):
                await self._render_wanted.wait()
            self._render_wanted = trio.Event()
            pause = last_draw + MIN_FRAME_INTERVAL - trio.current_time()
            if pause > 0:
                await trio.sleep(pause)
            last_draw = trio.current_time()
            backlog, self._backlog = self._backlog, b""
            await self._write(backlog + self._frame_output(last_draw))

    def _next_timed_redraw(self, now: float) -> float:
        """When the screen changes with no event to say so: the notification bar appears or
        counts up, or a pending guess is due to be re-judged (a slow one turns the display
        on). An idle, healthy session has neither before the next heartbeat wakes us."""
        endpoint = self.network.endpoint
        bar = notification_refresh_interval(
            now,
            last_heard=endpoint.last_heard,
            last_acked=endpoint.acked_sent_time,
            started=self.started,
        )
        guesses = GUESS_TICK if self.prediction.active else math.inf
        return now + min(bar, guesses)

    def _draw_now(self) -> None:
        """Draw at once from the input task; what a full terminal buffer does not take now is
        written first by the render task (bytes are never dropped or reordered)."""
        if self._backlog:
            self._want_render()
            return
        output = self._frame_output(trio.current_time())
        try:
            written = os.write(self._out, output)
        except BlockingIOError:
            written = 0
        if written < len(output):
            self._backlog = output[written:]
            self._want_render()

    def _frame_output(self, now: float) -> bytes:
        """The scrollback lines that came since the last draw, then the frame."""
        frame = self._compose(now)
        switch = self.display.show_screen(frame.alternate_screen)
        # Lines that scrolled off the main screen go to its history: they wait while the
        # application shows its alternate screen.
        pending = [] if frame.alternate_screen else self.history.drain()
        lines = self.display.write_history(pending, frame.width, frame.height)
        return switch + lines + self.display.draw(frame)

    def _compose(self, now: float) -> Framebuffer:
        endpoint = self.network.endpoint
        notification = self._message or notification_text(
            now,
            last_heard=endpoint.last_heard,
            last_acked=endpoint.acked_sent_time,
            started=self.started,
            server_port=self.config.port,
            escape_hint=self.escape.hint,
        )
        remote = endpoint.remote_state
        self.prediction.set_send_interval(endpoint.rtt.send_interval)
        self.prediction.cull(remote, now)
        width, height = self.size
        return compose(self.prediction.apply(remote), width, height, notification)

    # --- signals ------------------------------------------------------------------------------
    async def _signal_task(self, terminal: RawTerminal) -> None:
        wanted = {signal.SIGWINCH, signal.SIGTERM, signal.SIGHUP, signal.SIGTSTP, signal.SIGCONT}
        with trio.open_signal_receiver(*wanted) as signals:
            async for signum in signals:
                if signum == signal.SIGWINCH:
                    self._on_resize()
                elif signum in (signal.SIGTERM, signal.SIGHUP):
                    self.quit("Exiting on signal...")
                elif signum == signal.SIGTSTP:
                    self._suspend(terminal)
                elif signum == signal.SIGCONT:
                    self._on_resize()

    def _on_resize(self) -> None:
        size = window_size(self._out)
        if size != self.size:
            self.size = size
            self.prediction.reset()  # guesses were made for the old geometry
            self._push_resize(*size)
        self.display.invalidate()
        self._want_render()

    def _suspend(self, terminal: RawTerminal) -> None:
        """Give the terminal back, stop until resumed (fg), then take it again and repaint."""
        self._write_now(self.display.close() + b"\r\n[mosh is suspended.]\r\n")
        terminal.suspend()  # stops the whole process group, as a shell's job control expects
        self._write_now(self.display.open())
        self._on_resize()

    # --- output -------------------------------------------------------------------------------
    async def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._out, view) :]
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self._out)

    def _write_now(self, data: bytes) -> None:
        """Blocking write for the set-up and tear-down paths (no event loop may be running)."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._out, view) :]
            except BlockingIOError:
                select.select([], [self._out], [], 1.0)


def _nonblocking(fds: set[int]) -> dict[int, bool]:
    saved = {}
    for fd in fds:
        saved[fd] = os.get_blocking(fd)
        os.set_blocking(fd, False)
    return saved


def _restore_flags(saved: dict[int, bool]) -> None:
    for fd, blocking in saved.items():
        with contextlib.suppress(OSError):
            os.set_blocking(fd, blocking)


def exit_message(status: ExitStatus, host: str, port: int) -> str | None:
    """What to tell the user once the terminal is restored (upstream's wording where it has
    one). `Display.close()` leaves the cursor at the start of a line; the diagnostics keep a
    blank line above them, as upstream's do."""
    if not status.ever_connected:
        # Nothing ever came back: from here, a dead session, a wrong key and a firewall that
        # drops UDP all look the same, so name them all rather than guess.
        return (
            f"\nmosh did not make a successful connection to {host}:{port}.\n"
            "No reply came from the server: the session may have ended or never existed,\n"
            f"the key may be wrong, or a firewall may block UDP port {port}.\n"
        )
    if not status.clean:
        return (
            "\nmosh did not shut down cleanly. Please note that the\n"
            "mosh-server process may still be running on the server.\n"
        )
    if status.server_ended:
        # Upstream's line; moshd also says why (a stock server gives no reason).
        return (
            f"[mosh is exiting: {status.farewell}.]\n"
            if status.farewell
            else "[mosh is exiting.]\n"
        )
    return None


def print_exit_message(status: ExitStatus, host: str, port: int) -> None:
    message = exit_message(status, host, port)
    if message:
        sys.stderr.write(message)
        sys.stderr.flush()

"""The client's side of the scrollback: each line the session scrolled off, exactly once.

Every screen state from moshd says up to which scrollback line it reaches (`history_end`), and
the diff that made it brings the lines after its base's end (`Framebuffer.history`, see
`ssp.history`). A state may be diffed from an older base than the last one we saw (a resend
after loss, a reordered datagram), so its lines may overlap ones already written: lines are
numbered, and `HistoryFeed` keeps the number of the last line it took, taking only newer ones,
in order. Lines the server had to drop to keep up (a flood past its limit) become one marker
line saying how many.

`take` runs for every new remote state (the app calls it on `RemoteStateChanged`); the render
path hands what it collected to `Display.write_history` before drawing the frame.
"""

from __future__ import annotations

from ssp.screen import DEFAULT_RENDITION, Framebuffer, Row


def marker_row(dropped: int) -> Row:
    """The line that stands for `dropped` lines the history will never have."""
    noun = "line" if dropped == 1 else "lines"
    text = f"[moshd: {dropped} {noun} of scrollback dropped]"
    return Row(tuple(text), (DEFAULT_RENDITION,) * len(text))


class HistoryFeed:
    """The scrollback lines to write, each once, in order (see the module)."""

    def __init__(self) -> None:
        self.written = 0  # the number of the newest line taken
        self._pending: list[Row] = []

    def take(self, state: Framebuffer) -> None:
        """Collect the lines `state` brings that are newer than any taken so far."""
        end = state.history_end
        if end <= self.written:
            return
        lines = state.history
        if lines is None:
            # The state moved on but brought no lines after ours: they were dropped (or the
            # base already had them, which would mean we skipped a state: never).
            dropped, rows = end - self.written, list[Row]()
        else:
            dropped, rows = lines.rows(self.written, end)
        if dropped:
            self._pending.append(marker_row(dropped))
        self._pending += rows
        self.written = end

    def drain(self) -> list[Row]:
        """The lines collected since the last call, oldest first."""
        pending, self._pending = self._pending, []
        return pending

    @property
    def waiting(self) -> bool:
        return bool(self._pending)

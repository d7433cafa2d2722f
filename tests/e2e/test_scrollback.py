"""Scrollback through mosh (issue #17): what scrolled past on the server ends up in the user's
terminal history (here, the outer tmux's `capture-pane -S -`), once each, in order."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest

from testsupport.harness import SHELL, RealDaemon, Session, Tmux, client_command
from testsupport.impair import ProxyProcess

HISTORY_LIMIT = 50_000  # the outer tmux's own (its default, 2000, is less than the test needs)
MARKER = re.compile(r"^\[moshd: (\d+) lines? of scrollback dropped\]$")


def start_with_history(tmux: Tmux, command: str) -> None:
    """Start the pane with a history long enough: tmux sizes a pane's history when it is made,
    so the option must be set on the server first (a placeholder session creates it)."""
    tmux._tmux("new-session", "-d", "-s", "holder", "-x", "20", "-y", "5", "sleep 3600")
    tmux._tmux("set-option", "-g", "history-limit", str(HISTORY_LIMIT))
    tmux.start(command)


def history(tmux: Tmux) -> list[str]:
    """The pane's history and screen, oldest line first, trailing blanks stripped."""
    out = tmux._tmux("capture-pane", "-p", "-S", "-", "-t", "main")
    return [line.rstrip() for line in out.splitlines()]


def numbers(lines: list[str]) -> list[int]:
    return [int(line) for line in lines if line.isdigit()]


def wait_for_history(
    tmux: Tmux, done: Callable[[list[str]], bool], timeout: float = 30.0
) -> list[str]:
    deadline = time.monotonic() + timeout
    lines = history(tmux)
    while not done(lines) and time.monotonic() < deadline:
        time.sleep(0.1)
        lines = history(tmux)
    return lines


def run(tmux: Tmux, line: str) -> None:
    tmux.type(line)
    tmux.keys("Enter")


def prompt(tmux: Tmux) -> None:
    tmux.wait_for(lambda s: s.rstrip().endswith("$"), timeout=15, what="the prompt")


@pytest.fixture
def wide_tmux() -> Iterator[Tmux]:
    pane = Tmux(80, 24)
    yield pane
    pane.kill()


def _seq_lands_once_in_order(tmux: Tmux, count: int = 3000, timeout: float = 30.0) -> None:
    """`seq 1 count` adds exactly 1..count to the history and screen, after what was there."""
    earlier = len(numbers(history(tmux)))
    want = list(range(1, count + 1))
    run(tmux, f"seq 1 {count}")
    lines = wait_for_history(tmux, lambda got: numbers(got)[earlier:] == want, timeout)
    got = numbers(lines)[earlier:]
    assert got == want, (len(got), [n for n, m in zip(got, want, strict=False) if n != m][:5])
    assert not any(MARKER.match(line) for line in lines)


def test_seq_scrolls_into_the_terminal_history_once_each_in_order(
    wide_tmux: Tmux, real_daemon: RealDaemon
) -> None:
    session = real_daemon.new_session(*SHELL)
    start_with_history(wide_tmux, client_command(session))
    prompt(wide_tmux)
    _seq_lands_once_in_order(wide_tmux)
    # The notification bar and the prompt never landed in between.
    assert not any("mosh:" in line for line in history(wide_tmux))


def test_seq_through_29_percent_loss_and_a_roam(wide_tmux: Tmux, real_daemon: RealDaemon) -> None:
    session = real_daemon.new_session(*SHELL)
    with ProxyProcess(
        ("127.0.0.1", session.port), seed=17, both={"delay": 0.05, "loss": 0.29}
    ) as proxy:
        host, port = proxy.address
        start_with_history(wide_tmux, client_command(Session(port, session.key), host))
        prompt(wide_tmux)
        run(wide_tmux, "seq 1 1500")
        time.sleep(0.3)
        proxy.new_source_address("127.0.0.2")  # roam in the middle of it
        lines = wait_for_history(wide_tmux, lambda got: numbers(got) == list(range(1, 1501)), 60)
        assert numbers(lines) == list(range(1, 1501))
        _seq_lands_once_in_order(wide_tmux, 3000, timeout=60)
    assert not any(MARKER.match(line) for line in history(wide_tmux))


def test_the_alternate_screen_adds_nothing(wide_tmux: Tmux, real_daemon: RealDaemon) -> None:
    session = real_daemon.new_session(*SHELL)
    start_with_history(wide_tmux, client_command(session))
    prompt(wide_tmux)
    run(wide_tmux, "seq -f 'page-%g' 1 500 > pages.txt && echo written")
    wide_tmux.wait_for_text("\nwritten")
    before = history(wide_tmux)
    run(wide_tmux, "less pages.txt")
    wide_tmux.wait_for_text("page-20")
    for _ in range(5):
        wide_tmux.keys("Space")  # page down: less scrolls its alternate screen
        time.sleep(0.2)
    wide_tmux.wait_for_text("page-1")
    wide_tmux.keys("q")
    prompt(wide_tmux)
    run(wide_tmux, "echo after-less")
    wide_tmux.wait_for_text("\nafter-less")
    time.sleep(0.5)
    after = history(wide_tmux)
    assert not any(line.startswith("page-") for line in after), after
    assert len([line for line in after if line]) <= len([line for line in before if line]) + 4


def test_a_flood_past_the_limit_shows_one_marker() -> None:
    daemon = RealDaemon()
    daemon.env["MOSHD_SCROLLBACK_LINES"] = "200"
    daemon.start()
    tmux = Tmux(80, 24)
    try:
        session = daemon.new_session(*SHELL)
        start_with_history(tmux, client_command(session))
        prompt(tmux)
        run(tmux, "seq 1 300000; echo flood-done")
        tmux.wait_for_text("\nflood-done", timeout=60)

        def accounted(lines: list[str]) -> int:
            """Lines shown or counted by a marker (the command line scrolled off first)."""
            dropped = sum(int(m.group(1)) for m in map(MARKER.match, lines) if m is not None)
            command_kept = any(line.endswith("seq 1 300000; echo flood-done") for line in lines)
            return dropped + len(numbers(lines)) + command_kept

        # Every line the marker does not count arrives (after the flood: see below).
        lines = wait_for_history(tmux, lambda got: accounted(got) == 300000 + 1)
        assert accounted(lines) == 300000 + 1, lines[-300:]
        got = numbers(lines)
        assert got == sorted(set(got)), "out of order or twice"
        assert got[-1] == 300000
        # One marker: while the flood evicted lines before they were sent, none were sent (a
        # fragment would sit between two markers).
        markers = [line for line in lines if MARKER.match(line)]
        assert len(markers) == 1, markers
    finally:
        tmux.kill()
        daemon.stop()

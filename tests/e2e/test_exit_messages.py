"""What the user reads when a session ends or cannot start: the client in tmux against a real
daemon, and the `mosh` wrapper without a terminal."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from moshd.control import request
from testsupport.harness import BIN, SHELL, RealDaemon, Tmux, client_command

pytestmark = pytest.mark.e2e

EXITING = "[mosh is exiting"
EXIT_STATUS = "[client exit=0]"


def _attach_reporting_exit(tmux: Tmux, daemon: RealDaemon) -> str:
    """Run a client in the pane, then its exit status; returns the session's id."""
    session = daemon.new_session(*SHELL)
    command = client_command(session) + '; echo "[client exit=$?]"; sleep 60'
    tmux.start(f"sh -c {shlex.quote(command)}")
    tmux.wait_for(lambda s: s.rstrip().endswith("$"), what="the shell prompt")
    (listed,) = request(daemon.control, {"op": "list"})["sessions"]
    return str(listed["session_id"])


def _lines_before_exit_status(tmux: Tmux) -> list[str]:
    tmux.wait_for_text(EXIT_STATUS)
    lines = [line for line in tmux.lines() if line]
    return lines[: lines.index(EXIT_STATUS)]


def test_the_shell_exiting_ends_the_client_with_mosh_is_exiting(
    tmux: Tmux, real_daemon: RealDaemon
) -> None:
    _attach_reporting_exit(tmux, real_daemon)
    tmux.type("exit")
    tmux.keys("Enter")
    assert _lines_before_exit_status(tmux)[-1:] == [
        "[mosh is exiting: the session's program ended.]"
    ]


def test_mosh_server_kill_ends_the_client_with_mosh_is_exiting(
    tmux: Tmux, real_daemon: RealDaemon
) -> None:
    session_id = _attach_reporting_exit(tmux, real_daemon)
    subprocess.run(
        [str(BIN / "mosh-server"), "kill", session_id], env=real_daemon.env, check=True, timeout=20
    )
    assert _lines_before_exit_status(tmux)[-1:] == [
        "[mosh is exiting: the session was ended by mosh-server kill.]"
    ]


def test_quitting_with_the_escape_key_says_nothing(tmux: Tmux, real_daemon: RealDaemon) -> None:
    _attach_reporting_exit(tmux, real_daemon)
    tmux.keys("C-^")
    tmux.type(".")
    assert not any(line.startswith(EXITING) for line in _lines_before_exit_status(tmux))


def test_mosh_without_a_terminal_starts_no_session(real_daemon: RealDaemon) -> None:
    result = subprocess.run(
        [str(BIN / "mosh"), "--local", "127.0.0.1"],
        stdin=subprocess.DEVNULL,
        env=real_daemon.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, result.stdout) == (255, "")
    assert result.stderr == (
        "mosh: standard input is not a terminal: mosh needs one for the session "
        "(no session was started)\n"
    )
    assert request(real_daemon.control, {"op": "list"})["sessions"] == []

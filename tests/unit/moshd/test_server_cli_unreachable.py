"""What `mosh-server` says when moshd cannot be asked: the cause once, never doubled."""

from __future__ import annotations

import pytest

from moshd.control import DaemonUnreachable
from moshd.server_cli import (
    KillCommand,
    ListCommand,
    NewCommand,
    ServerCommand,
    StatusCommand,
    format_unreachable,
)

NOT_RUNNING = DaemonUnreachable("moshd is not running (no control socket at /run/x.sock)")


@pytest.mark.parametrize("command", [ListCommand(), KillCommand("1a2b3c4d"), StatusCommand()])
def test_not_running_is_said_once(command: ServerCommand) -> None:
    assert format_unreachable(command, NOT_RUNNING) == (
        "mosh-server: moshd is not running (no control socket at /run/x.sock)"
    )


def test_a_daemon_that_does_not_answer_is_not_called_not_running() -> None:
    silent = DaemonUnreachable("moshd did not answer within 5 s")
    assert format_unreachable(ListCommand(), silent) == (
        "mosh-server: moshd did not answer within 5 s"
    )


def test_new_says_it_could_not_start_one_either() -> None:
    failed = DaemonUnreachable("moshd did not come up; see /home/u/.local/state/moshd/moshd.log")
    assert format_unreachable(NewCommand(), failed) == (
        "mosh-server: cannot reach or start moshd: "
        "moshd did not come up; see /home/u/.local/state/moshd/moshd.log"
    )

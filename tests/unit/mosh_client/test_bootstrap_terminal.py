"""The `mosh` wrapper refuses to start a session without a terminal for its client."""

from __future__ import annotations

import os
import pty
from collections.abc import Iterator

import pytest

from mosh_client.bootstrap import run
from mosh_client.bootstrap.errors import BootstrapError
from mosh_client.bootstrap.run import require_terminal, run_bootstrap
from mosh_client.mosh_args import MoshOptions


@pytest.fixture
def not_a_terminal() -> Iterator[int]:
    read_end, write_end = os.pipe()
    yield read_end
    os.close(read_end)
    os.close(write_end)


def test_a_pipe_is_refused_in_one_line(not_a_terminal: int) -> None:
    with pytest.raises(BootstrapError) as info:
        require_terminal(not_a_terminal)
    assert str(info.value) == (
        "standard input is not a terminal: mosh needs one for the session (no session was started)"
    )


def test_a_pty_is_accepted() -> None:
    leader, follower = pty.openpty()
    try:
        require_terminal(follower)
    finally:
        os.close(leader)
        os.close(follower)


@pytest.mark.parametrize("client", [None, "/usr/bin/mosh-client-of-choice"])
def test_no_server_is_started_without_a_terminal(
    monkeypatch: pytest.MonkeyPatch, not_a_terminal: int, client: str | None
) -> None:
    started: list[object] = []
    monkeypatch.setattr(run, "start_server", lambda *args, **kw: started.append(args))
    monkeypatch.setattr(run, "count_colors", lambda *args: 256)
    monkeypatch.setattr(os, "isatty", lambda fd: False)  # whatever stdin pytest gives us
    options = MoshOptions(userhost="127.0.0.1", local=True, client=client)
    with pytest.raises(BootstrapError, match="standard input is not a terminal"):
        run_bootstrap(options, {})
    assert started == []

"""Running a whole bootstrap: start the server, then our client in this process (imported
while the server starts) or a `--client=PATH` exec'd in its place."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import NoReturn

from mosh_client.bootstrap.client_launch import client_argv, count_colors
from mosh_client.bootstrap.environment import client_environment
from mosh_client.bootstrap.errors import BootstrapError, failure_reason
from mosh_client.bootstrap.programs import own_path
from mosh_client.bootstrap.server_output import BootstrapOutput, connect_ip
from mosh_client.bootstrap.server_start import make_plan, start_server
from mosh_client.client_args import (
    ClientUsageError,
    InfoRequest,
    parse_client_args,
    terminal_colors,
)
from mosh_client.mosh_args import MoshOptions


def run_bootstrap(options: MoshOptions, environ: Mapping[str, str]) -> int:
    """Start the server, then run the client until it ends; its exit status. Raises
    BootstrapError on any failure before the client starts.

    Our own client runs in this process, and its modules (trio, PyNaCl: most of its start-up
    time) are imported while the server starts, so that `mosh` reaches a prompt about as fast
    as upstream's C++ programs. A client given with --client=PATH is exec'd, as upstream does.
    """
    require_terminal()  # before any server starts: both clients need one
    if options.client is not None:
        _exec_client(options.client, options, environ)
    colors = terminal_colors()
    output = start_server(
        make_plan(options, colors, environ, own_path()), options, while_waiting=_import_client
    )
    ip = connect_ip(output, options)
    assert output.port is not None and output.key is not None
    _show_server_lines(output)
    from mosh_client.client_run import run_client  # imported already, while the server started

    env = client_environment(options, output.key, environ)
    try:
        config = parse_client_args([ip, str(output.port)], env)
    except ClientUsageError as exc:
        raise BootstrapError(str(exc)) from None
    assert not isinstance(config, InfoRequest)
    return run_client(config)


def require_terminal(fd: int = 0) -> None:
    """Raise BootstrapError unless `fd` (stdin) is a terminal. The client puts it in raw mode
    to read keystrokes; found out only after the server started, that would leave a session
    (and its login shell) behind for nobody."""
    if not os.isatty(fd):
        raise BootstrapError(
            "standard input is not a terminal: mosh needs one for the session "
            "(no session was started)"
        )


def _import_client() -> None:
    import mosh_client.client_run  # noqa: F401  (start-up time: see run_bootstrap)


def _exec_client(client: str, options: MoshOptions, environ: Mapping[str, str]) -> NoReturn:
    colors = count_colors(client, environ)
    output = start_server(make_plan(options, colors, environ, own_path()), options)
    ip = connect_ip(output, options)
    assert output.port is not None and output.key is not None
    _show_server_lines(output)
    try:
        os.execvpe(
            client,
            client_argv(client, options, ip, output.port),
            client_environment(options, output.key, environ),
        )
    except OSError as exc:
        raise BootstrapError(
            f"cannot run the client {client!r} ({failure_reason(exc)}): "
            "give its path with --client=PATH"
        ) from None


def _show_server_lines(output: BootstrapOutput) -> None:
    """What the server said besides MOSH CONNECT (upstream shows it before the session)."""
    for line in output.lines:
        if line.strip():
            print(line)
    sys.stdout.flush()
    sys.stderr.flush()

"""Entry points of `mosh-client` and (placeholder until its issue lands) `mosh`."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.metadata import version

import trio

from mosh_client.app import ClientApp, ExitStatus, print_exit_message
from mosh_client.client_args import (
    ClientConfig,
    ClientUsageError,
    InfoRequest,
    parse_client_args,
    usage,
)
from mosh_client.terminal import NotATerminal


def client_main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config = parse_client_args(args, os.environ)
    except ClientUsageError as exc:
        print(f"mosh-client: {exc}", file=sys.stderr)
        return 1
    if isinstance(config, InfoRequest):
        if config.what == "help":
            print(usage())
        elif config.what == "version":
            print(f"mosh-client (moshd {version('moshd')})")
        else:
            print(_terminal_colors())
        return 0
    try:
        status = trio.run(_run_client, config)
    except NotATerminal as exc:
        print(f"mosh-client: {exc}", file=sys.stderr)
        return 1
    print_exit_message(status, config.host, config.port)
    return 0 if status.clean else 1


async def _run_client(config: ClientConfig) -> ExitStatus:
    return await ClientApp(config).run()


def _terminal_colors() -> int:
    """`mosh-client -c`: how many colours the local terminal has (as the wrapper asks)."""
    import curses

    try:
        curses.setupterm()
    except curses.error:
        return 8
    return max(curses.tigetnum("colors"), 8)


def mosh_main() -> int:
    print("mosh: not yet implemented", file=sys.stderr)
    return 2

"""Entry points of `mosh-client` and `mosh`."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version

import structlog
import trio

from mosh_client.app import ClientApp, ExitStatus, print_exit_message
from mosh_client.bootstrap import EXIT_FAILURE, BootstrapError, run_bootstrap, run_fake_proxy
from mosh_client.client_args import (
    ClientConfig,
    ClientUsageError,
    InfoRequest,
    parse_client_args,
    usage,
)
from mosh_client.mosh_args import FakeProxyRequest, MoshUsageError, parse_mosh_args
from mosh_client.mosh_args import InfoRequest as MoshInfoRequest
from mosh_client.mosh_args import usage as mosh_usage
from mosh_client.terminal import NotATerminal


def _quiet_logging() -> None:
    """The client owns the terminal: log events must never be printed onto it."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        logger_factory=structlog.ReturnLoggerFactory(),  # returns, never prints
    )


def client_main(argv: Sequence[str] | None = None) -> int:
    _quiet_logging()
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


def mosh_main(argv: Sequence[str] | None = None) -> int:
    """`mosh [options] [--] [user@]host [command...]`: bootstrap over ssh, become the client."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        request = parse_mosh_args(args, os.environ)
        if isinstance(request, MoshInfoRequest):
            text = mosh_usage() if request.what == "help" else f"mosh (moshd {version('moshd')})\n"
            print(text, end="")
            return 0
        if isinstance(request, FakeProxyRequest):
            return run_fake_proxy(request)
        run_bootstrap(request, os.environ)  # only returns by raising: it becomes the client
    except (MoshUsageError, BootstrapError) as exc:
        print(f"mosh: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130  # ssh, on the same terminal, got the Ctrl-C too and said what it had to

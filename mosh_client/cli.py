"""Entry points of `mosh-client` and `mosh`.

Both start in a fresh interpreter, and the `mosh` wrapper runs `mosh-client -c` before every
session, so each imports only what it needs when it needs it: no trio, structlog, PyNaCl or
pyte until a session starts (tests/unit/test_startup_imports.py keeps it so). The session
itself is in `mosh_client.client_run`; the wrapper's bootstrap in `mosh_client.bootstrap`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from mosh_client.client_args import (
    ClientUsageError,
    InfoRequest,
    parse_client_args,
    terminal_colors,
    usage,
)


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
            print(f"mosh-client (moshd {_version()})")
        else:
            print(terminal_colors())
        return 0
    # Imported here: trio, structlog and PyNaCl would slow `mosh-client -c` (start-up time).
    from mosh_client.client_run import run_client

    return run_client(config)


def _version() -> str:
    # Imported here: importlib.metadata costs start-up time and only --version needs it.
    from importlib.metadata import version

    return version("moshd")


def mosh_main(argv: Sequence[str] | None = None) -> int:
    """`mosh [options] [--] [user@]host [command...]`: bootstrap over ssh, become the client."""
    # Imported here: `mosh-client`, whose entry point shares this module, never needs the
    # wrapper's bootstrap (start-up time).
    from mosh_client.bootstrap.errors import EXIT_FAILURE, BootstrapError
    from mosh_client.bootstrap.fake_proxy import run_fake_proxy
    from mosh_client.bootstrap.run import run_bootstrap
    from mosh_client.mosh_args import FakeProxyRequest, MoshUsageError, parse_mosh_args
    from mosh_client.mosh_args import InfoRequest as MoshInfoRequest
    from mosh_client.mosh_args import usage as mosh_usage

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        request = parse_mosh_args(args, os.environ)
        if isinstance(request, MoshInfoRequest):
            text = mosh_usage() if request.what == "help" else f"mosh (moshd {_version()})\n"
            print(text, end="")
            return 0
        if isinstance(request, FakeProxyRequest):
            return run_fake_proxy(request)
        return run_bootstrap(request, os.environ)  # the client's exit status
    except (MoshUsageError, BootstrapError) as exc:
        print(f"mosh: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130  # ssh, on the same terminal, got the Ctrl-C too and said what it had to

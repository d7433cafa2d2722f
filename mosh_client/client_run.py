"""Running a `mosh-client` session: the Trio part of the command.

`mosh_client.cli` imports this only once the command line asks for a session, so that
`mosh-client -c`, `--help` and `--version` start without loading trio and PyNaCl; the `mosh`
wrapper imports it while the server starts. The client owns the terminal, so it never logs:
nothing may be printed onto the screen it draws (and structlog would cost start-up time).
"""

from __future__ import annotations

import sys

import trio

from mosh_client.app import ClientApp, ExitStatus, print_exit_message
from mosh_client.client_args import ClientConfig
from mosh_client.terminal import NotATerminal


def run_client(config: ClientConfig) -> int:
    """Run the session to its end; the exit status of `mosh-client`."""
    try:
        status = trio.run(_run, config)
    except NotATerminal as exc:
        print(f"mosh-client: {exc}", file=sys.stderr)
        return 1
    print_exit_message(status, config.host, config.port)
    return 0 if status.clean else 1


async def _run(config: ClientConfig) -> ExitStatus:
    return await ClientApp(config).run()

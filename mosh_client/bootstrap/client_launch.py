"""What the wrapper needs to start a client given with `--client=PATH`: its colour count for
the server's TERM, and its command line."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

from mosh_client.bootstrap.errors import BootstrapError, failure_reason
from mosh_client.mosh_args import MoshOptions

COLORS_TIMEOUT = 10.0


def count_colors(client: str, environ: Mapping[str, str]) -> int:
    """`CLIENT -c`: the local terminal's colour count, for the server's TERM (0 if unsure)."""
    try:
        result = subprocess.run(
            [client, "-c"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=dict(environ),
            timeout=COLORS_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BootstrapError(
            f"cannot run the client {client!r} ({failure_reason(exc)}): install mosh-client, "
            "or give its path with --client=PATH"
        ) from None
    if result.returncode != 0:
        raise BootstrapError(f"'{client} -c' failed (exit {result.returncode}): is it mosh-client?")
    text = result.stdout.decode(errors="replace").strip()
    return int(text) if text.isascii() and text.isdigit() else 0


def client_argv(client: str, options: MoshOptions, ip: str, port: int) -> list[str]:
    # -# shows the user's mosh command line in ps; the client ignores it.
    return [client, "-#", " ".join(options.argv) + " |", ip, str(port)]

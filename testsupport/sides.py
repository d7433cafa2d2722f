"""This project and upstream mosh, side by side: sessions and clients on a pty, through a link.

Shared by the end-to-end tests that compare against upstream and by `bench/`. Upstream is
`/usr/bin/mosh-server` + `/usr/bin/mosh-client` from Debian's `mosh` package.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from testsupport.impair import ProxyProcess

from .harness import BIN, SHELL, RealDaemon
from .ptydriver import PtyClient

UPSTREAM_SERVER = Path("/usr/bin/mosh-server")
UPSTREAM_CLIENT = Path("/usr/bin/mosh-client")


def upstream_installed() -> bool:
    return UPSTREAM_SERVER.exists() and UPSTREAM_CLIENT.exists()


@dataclass
class Side:
    name: str
    client_argv: list[str]
    env: dict[str, str]  # for the client (MOSH_KEY included)
    port: int
    server_pid: int | None = None  # moshd's daemon, or upstream's per-session mosh-server


@contextlib.contextmanager
def ours(
    *command: str, ports: str = "64800:64899", daemon_env: Mapping[str, str] | None = None
) -> Iterator[Side]:
    """A session of a daemon of our own; `daemon_env`: variables for the daemon (settings)."""
    daemon = RealDaemon(ports=ports)
    daemon.env.update(daemon_env or {})
    daemon.start()
    try:
        session = daemon.new_session(*(command or SHELL))
        env = dict(daemon.env, MOSH_KEY=session.key)
        server_pid = daemon.process.pid if daemon.process is not None else None
        yield Side("moshd", [str(BIN / "mosh-client")], env, session.port, server_pid)
    finally:
        daemon.stop()


@contextlib.contextmanager
def stock_on_moshd(*command: str, ports: str = "64700:64799") -> Iterator[Side]:
    """Upstream's mosh-client on a protocol-2 session of our daemon (a stock client's)."""
    daemon = RealDaemon(ports=ports)
    daemon.start()
    try:
        session = daemon.new_session(*(command or SHELL), protocol="proto2")
        env = dict(daemon.env, MOSH_KEY=session.key, LANG="C.UTF-8", TERM="xterm-256color")
        server_pid = daemon.process.pid if daemon.process is not None else None
        yield Side("mosh 1.4 client, moshd", [str(UPSTREAM_CLIENT)], env, session.port, server_pid)
    finally:
        daemon.stop()


@contextlib.contextmanager
def upstream(*command: str, port: int = 64950) -> Iterator[Side]:
    env = dict(os.environ, LANG="C.UTF-8", LC_ALL="C.UTF-8", PS1="$ ", TERM="xterm-256color")
    out = subprocess.run(
        [
            str(UPSTREAM_SERVER),
            "new",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "--",
            *(command or SHELL),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    match = re.search(r"MOSH CONNECT (\d+) (\S+)", out.stdout)
    pid = re.search(r"pid = (\d+)", out.stderr)
    if not match:
        raise RuntimeError(f"upstream mosh-server did not start: {out.stderr.strip()}")
    try:
        yield Side(
            "mosh 1.4",
            [str(UPSTREAM_CLIENT)],
            dict(env, MOSH_KEY=match.group(2)),
            int(match.group(1)),
            int(pid.group(1)) if pid else None,
        )
    finally:
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid.group(1)), signal.SIGTERM)


@contextlib.contextmanager
def client_through_link(
    side: Side,
    delay: float = 0.0,
    loss: float = 0.0,
    seed: int = 7,
    height: int = 24,
    **client_env: str,
) -> Iterator[tuple[PtyClient, ProxyProcess]]:
    """The side's client on a pty, talking to its server through the impairment proxy."""
    link = {"delay": delay, "loss": loss}
    with ProxyProcess(("127.0.0.1", side.port), up=link, down=link, seed=seed) as proxy:
        host, port = proxy.address
        argv = [*side.client_argv, host, str(port)]
        client = PtyClient(argv, dict(side.env, **client_env), height=height)
        try:
            yield client, proxy
        finally:
            client.close()


def wait_for_prompt(client: PtyClient, timeout: float = 20.0) -> float:
    """Until the cursor sits right after a `$ ` prompt on an otherwise empty line."""
    return client.wait_for(
        lambda s: s.text_lines()[s.cursor_row] == "$" and s.cursor_col == 2,
        timeout,
        "the prompt",
    )

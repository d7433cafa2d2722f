"""`moshd`: run the daemon in this process (the Trio part; `python -m moshd` lands here too)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import trio

from moshd import __version__
from moshd.control_protocol import (
    AlreadyRunning,
    ProtocolError,
    UnsafeControlDirectory,
    control_socket_path,
    parse_port_spec,
)
from moshd.daemon import Daemon, DaemonConfig
from moshd.logging import configure_logging, default_log_format
from moshd.systemd import Notifier, activated_control_socket, listen_fds
from moshd.udp import DEFAULT_PORTS


def _daemon_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moshd", description="The per-user mosh daemon: owns sessions, serves one UDP port."
    )
    parser.add_argument("--foreground", action="store_true", help="log for a human to the terminal")
    parser.add_argument(
        "--port",
        default=os.environ.get("MOSHD_PORT") or str(DEFAULT_PORTS),
        help="UDP port or LOW:HIGH range (default: $MOSHD_PORT or %(default)s)",
    )
    parser.add_argument(
        "--bind",
        default=os.environ.get("MOSHD_BIND") or None,
        help="IP address to bind (default: $MOSHD_BIND or all addresses)",
    )
    parser.add_argument("--control", default=None, help="control socket path")
    parser.add_argument(
        "--log-format",
        choices=["console", "json", "journal"],
        default=None,
        help="default: journal under systemd, console with --foreground, else json",
    )
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--version", action="version", version=f"moshd {__version__}")
    return parser


def daemon_main(argv: Sequence[str] | None = None) -> int:
    args = _daemon_parser().parse_args(argv)
    try:
        ports = parse_port_spec(args.port)
    except ProtocolError as exc:
        print(f"moshd: bad --port: {exc}", file=sys.stderr)
        return 2
    # Before anything else reads the environment: listen_fds() removes LISTEN_* from it.
    passed = listen_fds()
    notifier = Notifier.from_environ()
    under_systemd = notifier.enabled or bool(passed)
    configure_logging(
        args.log_format or default_log_format(args.foreground, under_systemd), args.log_level
    )
    control = Path(args.control) if args.control else control_socket_path()
    config = DaemonConfig(
        control_path=control,
        bind_ip=args.bind,
        ports=ports,
        control_socket=activated_control_socket(passed),
        notifier=notifier,
    )
    try:
        trio.run(_run_daemon, config)
    except AlreadyRunning:
        print(f"moshd: already running (control socket {control})", file=sys.stderr)
        return 1
    except (UnsafeControlDirectory, OSError) as exc:
        print(f"moshd: {exc}", file=sys.stderr)
        return 1
    return 0


async def _run_daemon(config: DaemonConfig) -> None:
    daemon = Daemon(config)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(daemon.handle_signals)
        await daemon.run()
        nursery.cancel_scope.cancel()

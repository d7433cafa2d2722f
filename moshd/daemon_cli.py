"""`moshd`: run the daemon in this process (the Trio part; `python -m moshd` lands here too)."""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import structlog
import trio

from moshd import __version__
from moshd.control.errors import AlreadyRunning, UnsafeControlDirectory
from moshd.control.paths import control_socket_path
from moshd.daemon import Daemon, DaemonConfig
from moshd.logging import configure_logging, default_log_format
from moshd.ports import PortSpecError, parse_port_spec
from moshd.systemd import Notifier, activated_control_socket, listen_fds
from moshd.udp import DEFAULT_PORTS, NoFreePort
from ssp.history import DEFAULT_BUDGET_BYTES, DEFAULT_LIMIT

_log = structlog.get_logger("moshd.daemon")


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
        "--scrollback-lines",
        type=int,
        default=int(os.environ.get("MOSHD_SCROLLBACK_LINES") or DEFAULT_LIMIT),
        help="scrollback lines kept per session (default: $MOSHD_SCROLLBACK_LINES or %(default)s)",
    )
    parser.add_argument(
        "--scrollback-memory",
        type=int,
        default=int(os.environ.get("MOSHD_SCROLLBACK_MEMORY") or DEFAULT_BUDGET_BYTES >> 20),
        help="MiB of scrollback for all sessions together "
        "(default: $MOSHD_SCROLLBACK_MEMORY or %(default)s)",
    )
    parser.add_argument(
        "--log-format",
        choices=["console", "json", "journal"],
        default=None,
        help="default: journal under systemd, console with --foreground, else json",
    )
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None,
        help="write JSON log lines to this file, rotated at 10 MiB keeping 5 old files",
    )
    parser.add_argument("--version", action="version", version=f"moshd {__version__}")
    return parser


def daemon_main(argv: Sequence[str] | None = None) -> int:
    args = _daemon_parser().parse_args(argv)
    try:
        ports = parse_port_spec(args.port)
    except PortSpecError as exc:
        print(f"moshd: bad --port: {exc}", file=sys.stderr)
        return 2
    # Before anything else reads the environment: listen_fds() removes LISTEN_* from it.
    passed = listen_fds()
    notifier = Notifier.from_environ()
    under_systemd = notifier.enabled or bool(passed)
    default_format = "json" if args.log_file else default_log_format(args.foreground, under_systemd)
    configure_logging(args.log_format or default_format, args.log_level, log_file=args.log_file)
    fd_limit = raise_fd_limit()
    control = Path(args.control) if args.control else control_socket_path()
    config = DaemonConfig(
        control_path=control,
        bind_ip=args.bind,
        ports=ports,
        control_socket=activated_control_socket(passed),
        notifier=notifier,
        child_fd_soft_limit=fd_limit.soft_was,
        scrollback_lines=max(args.scrollback_lines, 0),
        scrollback_bytes=max(args.scrollback_memory, 0) << 20,
    )
    startup = _Startup(fd_limit)
    try:
        trio.run(_run_daemon, config, startup)
    except BaseException as exc:
        message = None if startup.ready else startup_failure_message(exc, control)
        if message is None:
            raise  # not a start-up failure we can explain: a bug, whose traceback we need
        print(f"moshd: {message}", file=sys.stderr)
        return 1
    return 0


@dataclass
class _Startup:
    fd_limit: FdLimit
    ready: bool = False  # once ready, a failure is no start-up failure but a bug


async def _run_daemon(config: DaemonConfig, startup: _Startup) -> None:
    daemon = Daemon(config)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(daemon.handle_signals)
        await nursery.start(_serve_then_stop, daemon, nursery.cancel_scope)
        startup.ready = True
        # Logged only now: a daemon that fails to start prints its one line and nothing else.
        _log.info("daemon.fd_limit", **startup.fd_limit._asdict())


async def _serve_then_stop(
    daemon: Daemon,
    scope: trio.CancelScope,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    await daemon.run(task_status=task_status)
    scope.cancel()  # the signal handler's too


def startup_failure_message(error: BaseException, control: Path) -> str | None:
    """One line for the user if `error` (as trio.run raised it: possibly inside nested
    ExceptionGroups) is a start-up failure that is the environment's fault, else None."""
    leaves = _leaf_exceptions(error)
    if len(leaves) != 1:
        return None
    [leaf] = leaves
    if isinstance(leaf, AlreadyRunning):
        return f"already running (control socket {control})"
    if isinstance(leaf, UnsafeControlDirectory | NoFreePort):
        return str(leaf)
    if isinstance(leaf, OSError):
        return f"cannot start: {leaf.strerror or leaf}" + (
            f": {leaf.filename}" if leaf.filename else ""
        )
    return None


def _leaf_exceptions(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaf_exceptions(inner)]
    return [error]


class FdLimit(NamedTuple):
    soft_was: int
    soft: int
    hard: int


def raise_fd_limit() -> FdLimit:
    """Raise our RLIMIT_NOFILE soft limit to the hard limit: every session costs the daemon
    file descriptors (PTY master, pidfd, control connections), and the usual soft limit of
    1024 ends at a few hundred sessions. Nothing here uses select(), which needs fds < 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return FdLimit(soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)

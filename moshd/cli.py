"""Entry points: `moshd` (run the daemon) and `mosh-server` (ask the daemon for a session).

`mosh-server new` runs once per session, before the client can start, so this module imports
only what talking to the daemon needs: no trio, structlog, PyNaCl or pyte
(tests/unit/test_startup_imports.py keeps it so). The daemon itself is `moshd.daemon_cli`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from moshd import __version__
from moshd.control_protocol import (
    DaemonUnreachable,
    KillRequest,
    ListRequest,
    Request,
    StatusRequest,
    control_socket_path,
    request,
)
from moshd.server_cli import (
    HelpCommand,
    KillCommand,
    ListCommand,
    NewCommand,
    StatusCommand,
    UsageError,
    VersionCommand,
    format_session_list,
    format_status,
    parse_server_args,
    print_connect,
)

DAEMON_START_TIMEOUT = 10.0


# --- moshd ------------------------------------------------------------------------------------
def daemon_main(argv: Sequence[str] | None = None) -> int:
    # Imported here: trio, structlog and pyte would slow every `mosh-server` (start-up time).
    from moshd.daemon_cli import daemon_main as run_daemon

    return run_daemon(argv)


# --- mosh-server ------------------------------------------------------------------------------
def server_main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command = parse_server_args(args)
    except UsageError as exc:
        print(f"mosh-server: {exc}\nTry 'mosh-server --help'.", file=sys.stderr)
        return 2
    if isinstance(command, HelpCommand | VersionCommand):
        print(command.text.rstrip("\n"))
        return 0
    control = control_socket_path()
    try:
        if isinstance(command, NewCommand):
            return _new_session(control, command)
        if isinstance(command, ListCommand):
            reply = _ask(control, ListRequest(), start_daemon=False)
            print(format_session_list(reply["sessions"]))
        elif isinstance(command, KillCommand):
            _ask(control, KillRequest(command.session_id), start_daemon=False)
        elif isinstance(command, StatusCommand):
            print(format_status(_ask(control, StatusRequest(), start_daemon=False)))
    except DaemonUnreachable as exc:
        if isinstance(command, NewCommand):
            print(f"mosh-server: cannot reach or start moshd: {exc}", file=sys.stderr)
        else:
            print(f"mosh-server: moshd is not running ({exc})", file=sys.stderr)
        return 1
    except _Refused as exc:
        print(f"mosh-server: {exc}", file=sys.stderr)
        return 1
    return 0


class _Refused(Exception):
    """The daemon answered with an error."""


def _new_session(control: Path, command: NewCommand) -> int:
    req = replace(
        command.to_request(),
        network_timeout=_timeout_from_env("MOSH_SERVER_NETWORK_TMOUT"),
        signal_timeout=_timeout_from_env("MOSH_SERVER_SIGNAL_TMOUT"),
    )
    reply = _ask(control, req, start_daemon=True)
    print_connect(reply["port"], reply["key"], sys.stdout)
    print(
        f"mosh-server (moshd {__version__}): session {reply['session_id']} on UDP port "
        f"{reply['port']}",
        file=sys.stderr,
    )
    return 0


def _timeout_from_env(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        seconds = int(value)
    except ValueError:
        print(f"mosh-server: ignoring {name}={value!r}: not a whole number", file=sys.stderr)
        return None
    return seconds if seconds > 0 else None


def _ask(control: Path, req: Request, *, start_daemon: bool) -> dict[str, Any]:
    try:
        reply = request(control, req)
    except DaemonUnreachable:
        if not start_daemon:
            raise
        _start_daemon(control)
        reply = request(control, req)
    if not reply.get("ok"):
        raise _Refused(reply.get("error") or reply.get("code") or "request refused")
    return reply


def _start_daemon(control: Path) -> None:
    """Start moshd: through the user's systemd when there is one, else as a detached process."""
    if _user_systemd_available(os.environ):
        started = subprocess.run(
            ["systemctl", "--user", "start", "moshd.service"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if started.returncode == 0 and _wait_for_daemon(control):
            return
    log_path = _detached_log_path(os.environ)
    log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(log_path, "ab") as log_file:
        subprocess.Popen(
            # -P: never import a `moshd` package from whatever directory the user is in.
            [sys.executable, "-P", "-m", "moshd", "--control", str(control)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,  # outlives the ssh session that ran mosh-server
            close_fds=True,
        )
    if not _wait_for_daemon(control):
        raise DaemonUnreachable(f"moshd did not come up; see {log_path}")


def _user_systemd_available(env: Mapping[str, str]) -> bool:
    runtime = env.get("XDG_RUNTIME_DIR")
    return bool(
        runtime and Path(runtime, "systemd", "private").exists() and shutil.which("systemctl")
    )


def _detached_log_path(env: Mapping[str, str]) -> Path:
    state = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "moshd" / "moshd.log"


def _wait_for_daemon(control: Path) -> bool:
    deadline = time.monotonic() + DAEMON_START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            request(control, StatusRequest(), timeout=1.0)
            return True
        except DaemonUnreachable:
            time.sleep(0.05)
    return False

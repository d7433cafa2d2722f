"""Entry points: `moshd` (run the daemon) and `mosh-server` (ask the daemon for a session).

`mosh-server new` runs once per session, before the client can start, so this module imports
only what talking to the daemon needs: no trio, structlog, PyNaCl or pyte
(tests/unit/test_startup_imports.py keeps it so). The daemon itself is `moshd.daemon_cli`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from moshd import __version__
from moshd.control.client import request
from moshd.control.codes import ErrorCode
from moshd.control.errors import DaemonUnreachable, ProtocolError
from moshd.control.framing import MAX_LINE_BYTES
from moshd.control.messages import (
    AttachReply,
    AttachRequest,
    KillRequest,
    ListReply,
    ListRequest,
    NewReply,
    NewRequest,
    Request,
    StatusReply,
    StatusRequest,
    encode_line,
    request_to_json,
)
from moshd.control.paths import control_socket_path
from moshd.control.validation import check_environment_size
from moshd.server_cli import (
    AttachCommand,
    HelpCommand,
    KillCommand,
    ListCommand,
    NewCommand,
    StatusCommand,
    UsageError,
    VersionCommand,
    detached_sessions,
    format_detached_warning,
    format_session_list,
    format_several_detached,
    format_status,
    format_unreachable,
    parse_server_args,
    print_connect,
)

DAEMON_START_TIMEOUT = 10.0

# What a detached moshd keeps of the environment of the `mosh-server new` that starts it: what
# the daemon itself reads. Nothing else: a session gets its own caller's environment, so the
# first caller's secrets, SSH_* and NOTIFY_SOCKET (which would make the daemon believe it runs
# under systemd) have no business in the daemon.
_DAEMON_VARIABLES = frozenset(
    {
        "PATH",  # `locale -a`
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "XDG_RUNTIME_DIR",  # where the control socket lives
        "LANG",
        "LANGUAGE",
        # how this interpreter found the moshd package, which the daemon imports too
        "PYTHONPATH",
        "PYTHONHOME",
    }
)
_DAEMON_PREFIXES = ("MOSHD_", "LC_")  # its settings (MOSHD_PORT, MOSHD_BIND, ...), the locale


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
        if isinstance(command, AttachCommand):
            return _attach(control, command)
        if isinstance(command, ListCommand):
            listing = cast(ListReply, _ask(control, ListRequest(), start_daemon=False))
            print(format_session_list(listing["sessions"]))
        elif isinstance(command, KillCommand):
            _ask(control, KillRequest(command.session_id), start_daemon=False)
        elif isinstance(command, StatusCommand):
            status = cast(StatusReply, _ask(control, StatusRequest(), start_daemon=False))
            print(format_status(status))
    except DaemonUnreachable as exc:
        print(format_unreachable(command, exc), file=sys.stderr)
        return 1
    except _Refused as exc:
        print(f"mosh-server: {exc}", file=sys.stderr)
        return 1
    return 0


class _Refused(Exception):
    """The daemon answered with an error."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def _new_session(control: Path, command: NewCommand) -> int:
    req = replace(
        command.to_request(),
        network_timeout=_timeout_from_env("MOSH_SERVER_NETWORK_TMOUT"),
        signal_timeout=_timeout_from_env("MOSH_SERVER_SIGNAL_TMOUT"),
        caller_env=caller_environment(os.environ),
        umask=caller_umask(),
    )
    try:
        check_new_request_size(req)
    except ProtocolError as exc:
        raise _Refused(str(exc)) from None
    reply = cast(NewReply, _ask(control, req, start_daemon=True))
    _warn_of_detached(control, reply["session_id"])
    _announce(reply, "session")
    return 0


def _announce(reply: NewReply | AttachReply, what: str) -> None:
    """`MOSH CONNECT` on stdout for the wrapper, and a line for a person on stderr."""
    print_connect(reply["port"], reply["key"], sys.stdout)
    print(
        f"mosh-server (moshd {__version__}): {what} {reply['session_id']} on UDP port "
        f"{reply['port']}",
        file=sys.stderr,
    )


def _warn_of_detached(control: Path, new_session_id: str) -> None:
    """Tell the user of the detached sessions they already have, and how to take one. On
    stderr and before `MOSH CONNECT`: the `mosh` wrapper shows what comes before it."""
    try:
        listing = cast(ListReply, _ask(control, ListRequest(), start_daemon=False))
    except (DaemonUnreachable, _Refused):
        return  # only a courtesy
    others = [s for s in listing["sessions"] if s["session_id"] != new_session_id]
    detached = detached_sessions(others)
    if detached:
        print(format_detached_warning(detached, socket.gethostname()), file=sys.stderr)
        sys.stderr.flush()


def _attach(control: Path, command: AttachCommand) -> int:
    host = command.host or socket.gethostname()
    try:
        reply = cast(
            AttachReply, _ask(control, AttachRequest(command.session_id), start_daemon=False)
        )
    except _Refused as exc:
        if exc.code == ErrorCode.SEVERAL_DETACHED:
            listing = cast(ListReply, _ask(control, ListRequest(), start_daemon=False))
            print(
                format_several_detached(detached_sessions(listing["sessions"]), host),
                file=sys.stderr,
            )
            return 1
        if exc.code == ErrorCode.NO_DETACHED_SESSION:
            print(
                f"mosh-server: no detached session to attach on this server "
                f"(mosh-server list shows them all; mosh --attach=ID {host} takes any)",
                file=sys.stderr,
            )
            return 1
        raise
    _announce(reply, "attached to session")
    return 0


def caller_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment to send for the session: all of ours that JSON can carry.

    A variable that is not UTF-8 (os.environ holds it with surrogate escapes) is left out:
    the control protocol is UTF-8 JSON text.
    """
    return {
        name: value for name, value in env.items() if _is_utf8_text(name) and _is_utf8_text(value)
    }


def _is_utf8_text(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def caller_umask() -> int:
    """Our umask. Reading it means setting it; this process has a single thread, so nothing
    can create a file between the two calls."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def check_new_request_size(req: NewRequest) -> None:
    """Refuse, before starting any daemon, an environment moshd would refuse (ProtocolError)."""
    if req.caller_env is not None:
        check_environment_size(req.caller_env)
    size = len(encode_line(request_to_json(req)))
    if size > MAX_LINE_BYTES:
        raise ProtocolError(
            f"the environment is too large to send to moshd: the request is {size} bytes, "
            f"moshd reads at most {MAX_LINE_BYTES}"
        )


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
    """The daemon's successful reply to `req`; raises _Refused for an error reply.

    The reply is not checked beyond its "ok": the daemon answers each request type with the
    reply type moshd.control.messages names for it, which the caller casts it to."""
    try:
        reply = request(control, req)
    except DaemonUnreachable:
        if not start_daemon:
            raise
        _start_daemon(control, os.environ)
        reply = request(control, req)
    if not reply.get("ok"):
        raise _Refused(
            reply.get("error") or reply.get("code") or "request refused", reply.get("code")
        )
    return reply


def _start_daemon(control: Path, env: Mapping[str, str]) -> None:
    """Start moshd: through the user's systemd when there is one, else as a detached process
    whose environment is only what the daemon needs of `env` (ours)."""
    if _user_systemd_available(env):
        started = subprocess.run(
            ["systemctl", "--user", "start", "moshd.service"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        if started.returncode == 0 and _wait_for_daemon(control):
            return
    log_path = _detached_log_path(env)
    log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(log_path, "ab") as log_file:
        subprocess.Popen(
            detached_daemon_argv(control, log_path),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,  # outlives the ssh session that ran mosh-server
            close_fds=True,
            env=detached_daemon_environment(env),
        )
    if not _wait_for_daemon(control):
        raise DaemonUnreachable(f"moshd did not come up; see {log_path}")


def detached_daemon_environment(env: Mapping[str, str]) -> dict[str, str]:
    """Of `env`, only the variables the daemon itself reads (see _DAEMON_VARIABLES)."""
    return {
        name: value
        for name, value in env.items()
        if name in _DAEMON_VARIABLES or name.startswith(_DAEMON_PREFIXES)
    }


def detached_daemon_argv(control: Path, log_path: Path) -> list[str]:
    """The detached moshd's command line: it logs to `log_path` itself, so that it can rotate
    the file (its stdout and stderr point there too, for what happens before logging starts)."""
    # -P: never import a `moshd` package from whatever directory the user is in.
    return [
        sys.executable,
        "-P",
        "-m",
        "moshd",
        "--control",
        str(control),
        "--log-file",
        str(log_path),
    ]


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

"""`mosh-server`'s command line: parsing, validation and what it prints (no I/O with the daemon).

Upstream's contract is kept so that the `mosh` wrapper can drive either implementation:

    mosh-server new [-s] [-c COLORS] [-i IP] [-p PORT[:PORT2]] [-l NAME=VALUE]... [-v] [-- cmd...]
    mosh-server                       (no arguments at all: the same as `mosh-server new`)

and on success `MOSH CONNECT <port> <key>` on its own line. The session speaks upstream's
protocol 2 (a 22-character key), so that stock clients and wrappers work unchanged, unless
`MOSHD_PROTOCOL=native` is in the environment, as our own `mosh` wrapper sets it (a stock
mosh-server ignores it): then this project's protocol (a 43-character key). The key's length
tells the client which it got. Our additions: `list`, `kill ID`,
`status`, and `attach [ID]`, which prints `MOSH CONNECT` with a fresh key for a live session.
Options stop at `--` or at the first argument that is not an option, so that
`mosh-server new vim -p file` runs `vim -p file`.
"""

from __future__ import annotations

import getopt
import ipaddress
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO, TypeAlias

from moshd import __version__
from moshd.control.messages import (
    NATIVE_PROTOCOL,
    PROTO2_PROTOCOL,
    NewRequest,
    SessionInfo,
    StatusReply,
)
from moshd.control.validation import MAX_COLORS
from moshd.ports import PortRange, PortSpecError, parse_port_spec

PROGRAM = "mosh-server"
PROTOCOL_VARIABLE = "MOSHD_PROTOCOL"  # "native": this project's protocol; else protocol 2

USAGE = f"""\
Usage: {PROGRAM} new [-s] [-v] [-i LOCALADDR] [-p PORT[:PORT2]] [-c COLORS] [-l NAME=VALUE] \
[-- COMMAND...]
       {PROGRAM} attach [--host=HOST] [SESSION_ID]
       {PROGRAM} list
       {PROGRAM} kill SESSION_ID
       {PROGRAM} status
       {PROGRAM} --help | --version

new     ask moshd (started if needed) for a new session; prints MOSH CONNECT <port> <key>
        (mosh protocol 2 for stock clients, a 22-character key; this project's own protocol,
        a 43-character key, with MOSHD_PROTOCOL=native in the environment)
  -s                bind to the local address of the ssh connection ($SSH_CONNECTION)
  -i LOCALADDR      bind to this local IP address
  -p PORT[:PORT2]   use this UDP port, or one from this range
  -c COLORS         number of colours the client's terminal has (256 or more: xterm-256color)
  -l NAME=VALUE     a locale variable of the client, used if this host's locale is not UTF-8
  -v                verbose
  -- COMMAND...     run COMMAND instead of the login shell
attach  take over a live session: prints MOSH CONNECT <port> <key> with a fresh key; the old
        key stops working and its client, if still running, is told and exits. Without an id:
        the only detached session (with several, they are listed and nothing is attached)
  --host=HOST       how clients name this server, in the commands printed (mosh --attach=ID HOST)
list    show the sessions moshd owns: attached or detached (no client heard for 10 s) and since
kill    end a session
status  show whether moshd runs, its pid, sessions and ports
"""


class UsageError(ValueError):
    """The command line is wrong; the message says what to fix."""


@dataclass(frozen=True)
class NewCommand:
    command: list[str] | None = None  # None: the login shell
    colors: int | None = None
    bind_ip: str | None = None
    port: PortRange | None = None
    locale_vars: dict[str, str] = field(default_factory=dict)
    verbose: bool = False
    protocol: str = PROTO2_PROTOCOL

    def to_request(self) -> NewRequest:
        # The size is not known here; the client's first resize sets it.
        return NewRequest(
            command=self.command,
            env=dict(self.locale_vars),
            colors=self.colors,
            bind_ip=self.bind_ip,
            port=self.port,
            verbose=self.verbose,
            protocol=self.protocol,
        )


@dataclass(frozen=True)
class ListCommand:
    pass


@dataclass(frozen=True)
class KillCommand:
    session_id: str


@dataclass(frozen=True)
class StatusCommand:
    pass


@dataclass(frozen=True)
class AttachCommand:
    session_id: str | None = None  # None: the only detached session
    host: str | None = None  # how clients name this server (`mosh --attach`'s host)


@dataclass(frozen=True)
class HelpCommand:
    text: str = USAGE


@dataclass(frozen=True)
class VersionCommand:
    text: str = f"{PROGRAM} (moshd {__version__})"


ServerCommand: TypeAlias = (
    NewCommand
    | ListCommand
    | KillCommand
    | StatusCommand
    | AttachCommand
    | HelpCommand
    | VersionCommand
)


def parse_server_args(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> ServerCommand:
    """Parse `mosh-server`'s arguments (without the program name). Raises UsageError."""
    if not argv:
        return _parse_new([], env)
    subcommand, rest = argv[0], list(argv[1:])
    if subcommand in ("-h", "--help", "help"):
        return HelpCommand()
    if subcommand in ("-V", "--version"):
        return VersionCommand()
    if subcommand == "new":
        return _parse_new(rest, env)
    if subcommand in ("list", "status"):
        if rest:
            raise UsageError(f"{subcommand} takes no arguments (got {' '.join(rest)!r})")
        return ListCommand() if subcommand == "list" else StatusCommand()
    if subcommand == "kill":
        if len(rest) != 1 or not rest[0]:
            raise UsageError("kill needs exactly one session id (see: mosh-server list)")
        return KillCommand(session_id=rest[0])
    if subcommand == "attach":
        return _parse_attach(rest)
    if subcommand.startswith("-"):
        raise UsageError(f"options go after the subcommand: {PROGRAM} new {' '.join(argv)}")
    raise UsageError(
        f"unknown subcommand {subcommand!r} (expected new, attach, list, kill or status)"
    )


def _parse_attach(arguments: list[str]) -> AttachCommand:
    try:
        options, rest = getopt.gnu_getopt(arguments, "", ["host="])
    except getopt.GetoptError as error:
        raise UsageError(f"attach: {error}") from None
    host = None
    for _option, value in options:
        host = value or None
    if len(rest) > 1 or (rest and not rest[0]):
        raise UsageError("attach takes at most one session id (see: mosh-server list)")
    return AttachCommand(session_id=rest[0] if rest else None, host=host)


def _parse_new(arguments: list[str], env: Mapping[str, str]) -> ServerCommand:
    try:
        options, command = getopt.getopt(arguments, "sc:i:p:l:vh", ["help", "version"])
    except getopt.GetoptError as error:
        raise UsageError(f"new: {error}") from None
    colors: int | None = None
    bind_ip: str | None = None
    port: PortRange | None = None
    locale_vars: dict[str, str] = {}
    verbose = False
    for option, value in options:
        if option in ("-h", "--help"):
            return HelpCommand()
        if option == "--version":
            return VersionCommand()
        if option == "-s":
            bind_ip = ssh_local_address(env)  # like upstream, the last of -s / -i wins
        elif option == "-i":
            bind_ip = _parse_ip(value)
        elif option == "-c":
            colors = _parse_colors(value)
        elif option == "-p":
            port = _parse_port(value)
        elif option == "-l":
            name, text = _parse_assignment(value)
            locale_vars[name] = text
        elif option == "-v":
            verbose = True
    return NewCommand(
        command=command or None,
        colors=colors,
        bind_ip=bind_ip,
        port=port,
        locale_vars=locale_vars,
        verbose=verbose,
        protocol=requested_protocol(env),
    )


def requested_protocol(env: Mapping[str, str]) -> str:
    """Protocol 2, which stock clients speak, unless the caller asks for ours."""
    return NATIVE_PROTOCOL if env.get(PROTOCOL_VARIABLE) == NATIVE_PROTOCOL else PROTO2_PROTOCOL


def ssh_local_address(env: Mapping[str, str]) -> str:
    """The server-side IP of the ssh connection: field 3 of SSH_CONNECTION (`-s`)."""
    connection = env.get("SSH_CONNECTION")
    if not connection:
        raise UsageError("-s: SSH_CONNECTION is not set (are you running under ssh?)")
    fields = connection.split()
    if len(fields) != 4:
        raise UsageError(f"-s: cannot parse SSH_CONNECTION={connection!r}")
    try:
        address = ipaddress.ip_address(fields[2])
    except ValueError:
        raise UsageError(f"-s: SSH_CONNECTION has no local IP address: {fields[2]!r}") from None
    # An IPv4 client on a dual-stack sshd shows up as ::ffff:a.b.c.d; bind the IPv4 address,
    # as upstream does.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _parse_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise UsageError(f"-i: not an IP address: {text!r}") from None


def _parse_colors(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise UsageError(f"-c: the number of colours must be a whole number, not {text!r}")
    colors = int(text)
    if colors > MAX_COLORS:
        raise UsageError(f"-c: {colors} colours is more than {MAX_COLORS}")
    return colors


def _parse_port(text: str) -> PortRange:
    try:
        return parse_port_spec(text)
    except PortSpecError as error:
        raise UsageError(f"-p: {error}") from None


def _parse_assignment(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise UsageError(f"-l: expected NAME=VALUE, not {text!r}")
    if "\0" in text:
        raise UsageError("-l: NUL characters are not allowed")
    return name, value


# ---------------------------------------------------------------------------------------------
# Output


def format_connect_line(port: int, key: str) -> str:
    return f"MOSH CONNECT {port} {key}"


def print_connect(port: int, key: str, stream: TextIO) -> None:
    """Print the connect line as upstream does: framed by CR LF, so that it stands on its own
    line even on a terminal ssh allocated (`ssh -t`), then flush (the wrapper is waiting)."""
    stream.write(f"\r\n{format_connect_line(port, key)}\r\n")
    stream.flush()


def format_unreachable(command: ServerCommand, error: Exception) -> str:
    """The one line `mosh-server` prints when moshd could not be asked. The error already
    names its cause ("moshd is not running (no control socket at ...)", "moshd did not answer
    within 5 s"), so it is printed as it is, not wrapped in a second "not running"."""
    if isinstance(command, NewCommand):
        return f"{PROGRAM}: cannot reach or start moshd: {error}"
    if isinstance(command, AttachCommand):
        return f"{PROGRAM}: no session to attach: {error}"
    return f"{PROGRAM}: {error}"


def format_session_list(sessions: Sequence[SessionInfo], now: float | None = None) -> str:
    """A table of sessions for `mosh-server list` (empty input: a sentence saying so).
    STATE is attached or detached, SINCE how long it has been so, HEARD how long ago a
    client was last heard from."""
    if not sessions:
        return "no sessions"
    if now is None:
        now = time.time()
    header = (
        "SESSION",
        "PID",
        "PORT",
        "AGE",
        "PEER",
        "STATE",
        "SINCE",
        "HEARD",
        "PROTO",
        "COMMAND",
    )
    rows = [header, *(_session_row(session, now) for session in sessions)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )


def _session_row(session: SessionInfo, now: float) -> tuple[str, ...]:
    return (
        session["session_id"],
        str(session["pid"]),
        str(session["port"]),
        format_duration(max(0.0, now - session["created_at"])),
        session["peer"] or "-",
        session.get("state", "?"),
        _ago(session.get("state_since"), now),
        _ago(session.get("last_heard"), now),
        session.get("protocol", NATIVE_PROTOCOL),
        " ".join(session["command"]),
    )


def _ago(moment: float | None, now: float) -> str:
    return "-" if moment is None else format_duration(max(0.0, now - moment))


def detached_sessions(sessions: Sequence[SessionInfo]) -> list[SessionInfo]:
    return [session for session in sessions if session.get("state") == "detached"]


def format_attach_commands(
    sessions: Sequence[SessionInfo], host: str, now: float | None = None
) -> str:
    """One line per detached session: the command that takes it over, and what it is."""
    if now is None:
        now = time.time()
    lines = []
    for session in sessions:
        heard = session.get("last_heard")
        contact = (
            f"last heard {_ago(heard, now)} ago from {session['peer']}"
            if heard is not None and session["peer"]
            else "no client ever heard"
        )
        lines.append(
            f"  mosh --attach={session['session_id']} {host}    "
            f"# {' '.join(session['command'])}; started "
            f"{format_duration(max(0.0, now - session['created_at']))} ago; {contact}"
        )
    return "\n".join(lines)


def format_detached_warning(sessions: Sequence[SessionInfo], host: str) -> str:
    """What `mosh-server new` says when the user already has detached sessions (upstream:
    "Mosh: You have a detached Mosh session on this server")."""
    count = len(sessions)
    what = "a detached session" if count == 1 else f"{count} detached sessions"
    return (
        f"{PROGRAM}: you have {what} on this server; to take one over:\n"
        f"{format_attach_commands(sessions, host)}\n"
        f"  (or, on this server: {PROGRAM} attach SESSION_ID)"
    )


def format_several_detached(sessions: Sequence[SessionInfo], host: str) -> str:
    """`attach` without an id, with several detached sessions: which, and how to take one."""
    return (
        f"{PROGRAM}: {len(sessions)} detached sessions; say which one to attach:\n"
        f"{format_attach_commands(sessions, host)}\n"
        f"  (or, on this server: {PROGRAM} attach SESSION_ID)"
    )


def format_duration(seconds: float) -> str:
    """Coarse human duration: 42s, 5m03s, 3h07m, 2d04h."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def format_status(reply: StatusReply) -> str:
    """`mosh-server status` output from a status reply (a field missing, from a daemon of
    another version, shows as "?")."""
    ports = ", ".join(str(port) for port in reply.get("ports", [])) or "none"
    return (
        f"moshd {reply.get('version', '?')} running, pid {reply.get('pid', '?')}\n"
        f"sessions: {reply.get('sessions', 0)}\n"
        f"udp ports: {ports}"
    )

"""Reading what the server command says: `MOSH IP`, `MOSH SSH_CONNECTION`, `MOSH CONNECT`
and everything else; from that, the IP the client sends to, or, when no `MOSH CONNECT` came,
one line saying why."""

from __future__ import annotations

import ipaddress
import re
import signal
import sys
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field

from mosh_client.bootstrap.errors import EXIT_FAILURE, BootstrapError
from mosh_client.bootstrap.fake_proxy import FAKE_PROXY_PREFIX
from mosh_client.mosh_args import MoshOptions
from ssp.key import Key, MalformedKey
from ssp.proto2.key import Proto2Key, parse_connect_key

# With the server under a pty, the remote command's stderr arrives on the same stream.
_CONNECT = re.compile(r"MOSH CONNECT (\d+) (\S+)")
_IP = re.compile(r"MOSH IP (\S+)")
# Chatter that says nothing about why a bootstrap failed: ssh's, and the usage trailer that
# follows a program's real complaint ("Try 'mosh-server --help'.").
_NOISE = re.compile(
    r"(Shared connection|Connection) to \S+ closed\.?|Pseudo-terminal will not be allocated.*"
    r"|Try '.*--help'.*"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@dataclass
class BootstrapOutput:
    """What the server command (and ssh, and the proxy) said, line by line."""

    ip: str | None = None  # known before reading with --local and remote-ip=local
    ssh_connection_ip: str | None = None
    port: int | None = None
    key: Key | Proto2Key | None = None  # moshd's, or a stock server's (protocol 2)
    lines: list[str] = field(default_factory=list)  # everything else, without line ends

    def feed(self, raw: str) -> bool:
        """Take one line; True once `MOSH CONNECT` has been seen. Raises BootstrapError."""
        line = raw.rstrip("\r\n").strip("\r")
        if line.startswith("MOSH IP "):
            self._take_ip(line)
        elif line.startswith("MOSH SSH_CONNECTION "):
            self._take_ssh_connection(line)
        elif line.startswith("MOSH CONNECT "):
            self.port, self.key = parse_connect_line(line)
            return True
        else:
            self.lines.append(line)
        return False

    def _take_ip(self, line: str) -> None:
        # The proxy speaks before the remote side; a second IP would be the remote lying.
        if self.ip is not None:
            raise BootstrapError("detected attempt to redefine MOSH IP (from the remote side?)")
        match = _IP.fullmatch(line.rstrip())
        if match is None:
            raise BootstrapError(f"Bad MOSH IP string: {line!r}")
        self.ip = match.group(1)

    def _take_ssh_connection(self, line: str) -> None:
        words = line.split()
        if len(words) != 6:
            raise BootstrapError(f"Bad MOSH SSH_CONNECTION string: {line!r}")
        self.ssh_connection_ip = unmap_ipv4(words[4])  # client ip, port, SERVER IP, port


def parse_connect_line(line: str) -> tuple[int, Key | Proto2Key]:
    """`MOSH CONNECT <port> <key>` → (port, key). The key's length says the protocol: 43
    characters for moshd's own, 22 for a stock mosh-server's (protocol 2, which the client
    speaks too). Raises BootstrapError."""
    match = _CONNECT.fullmatch(line.strip())
    if match is None or not 1 <= int(match.group(1)) <= 65535:
        raise BootstrapError(f"Bad MOSH CONNECT string from the server: {line.strip()!r}")
    try:
        key = parse_connect_key(match.group(2))
    except MalformedKey as exc:
        raise BootstrapError(
            f"the server's key is not one this client can use ({exc}): is the server "
            "mosh-server (moshd's, or upstream mosh's)?"
        ) from None
    return int(match.group(1)), key


def unmap_ipv4(text: str) -> str:
    """`::ffff:192.0.2.1` (IPv4 on a dual-stack socket) → `192.0.2.1`; others unchanged."""
    with suppress(ValueError):
        address = ipaddress.ip_address(text)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
    return text


def connect_ip(output: BootstrapOutput, options: MoshOptions) -> str:
    """The address the client should send to."""
    if output.ip is not None:
        return output.ip
    if output.ssh_connection_ip is not None:
        print(
            f"mosh: Using remote IP address {output.ssh_connection_ip} from $SSH_CONNECTION "
            f"for hostname {options.userhost}",
            file=sys.stderr,
        )
        return output.ssh_connection_ip
    raise BootstrapError(
        "Did not find remote IP address (is SSH ProxyCommand disabled?): "
        "try --experimental-remote-ip=remote"
    )


def telling_line(lines: Sequence[str]) -> str | None:
    """The last line that says something (not blank, not ssh's 'Connection ... closed',
    not a "Try '... --help'" trailer)."""
    for line in reversed(lines):
        text = _ANSI.sub("", line).strip()
        if text and not _NOISE.fullmatch(text):
            return text
    return None


def explain_failure(
    output: BootstrapOutput, returncode: int, options: MoshOptions, server: str
) -> BootstrapError:
    """No `MOSH CONNECT`: one line saying what went wrong and what to do about it."""
    for line in reversed(output.lines):
        if line.strip().startswith(FAKE_PROXY_PREFIX):  # ssh's own complaint would be vaguer
            return BootstrapError(line.strip()[len(FAKE_PROXY_PREFIX) :])
    last = telling_line(output.lines)
    said = f": {last}" if last else ""
    where = "this machine" if options.local else options.host
    if options.attach is not None and returncode == ATTACH_REFUSED:
        return _attach_refused(output.lines, where)
    port_range = options.port_request is not None and ":" in options.port_request
    if port_range and any("Bad UDP port" in line for line in output.lines):
        return BootstrapError("Server does not support UDP port range option.")
    if returncode == EXIT_FAILURE and not options.local:
        if last is None:
            return BootstrapError(f"ssh to {options.userhost} failed (exit 255) without a word")
        return BootstrapError(f"ssh to {options.userhost} failed{said}")
    if returncode == 127:
        return BootstrapError(
            f"{server} not found on {where}{said} — install mosh there, "
            "or give the server's full path with --server=PATH"
        )
    if returncode == 126:
        return BootstrapError(
            f"{server} cannot be run on {where}{said} — check the file and its permissions, "
            "or give another with --server=PATH"
        )
    if returncode < 0:
        return BootstrapError(f"{options.ssh[0]} was killed by {_signal_name(-returncode)}")
    if returncode != 0:
        return BootstrapError(f"{server} failed on {where} (exit {returncode}){said}")
    return BootstrapError(
        f"Did not find mosh server startup message (MOSH CONNECT) from {where}{said} "
        "(Have you installed mosh on your server?)"
    )


ATTACH_REFUSED = 1  # `mosh-server attach` found nothing to attach, or several
_SERVER_PREFIX = "mosh-server: "
_UPSTREAM_USAGE = re.compile(r"^Usage: \S*mosh-server new ")


def _attach_refused(lines: Sequence[str], where: str) -> BootstrapError:
    """`mosh-server attach` said why it attached nothing: one reason becomes the error; a list
    of sessions to choose from is shown as it is, the error then saying to choose."""
    said = [text for line in lines if (text := _ANSI.sub("", line).rstrip()).strip()]
    said = [text for text in said if not _NOISE.fullmatch(text.strip())]
    if any(_UPSTREAM_USAGE.search(text) for text in said):
        # Upstream's mosh-server has no `attach`: it rejects the arguments with its usage.
        return BootstrapError(
            f"the mosh-server on {where} cannot attach sessions (it is upstream's; "
            "reattach needs moshd there)"
        )
    if len(said) == 1:
        reason = said[0].strip().removeprefix(_SERVER_PREFIX)
        return BootstrapError(f"nothing to attach on {where}: {reason}")
    for text in said:
        print(text, file=sys.stderr)
    return BootstrapError(f"nothing attached on {where}: choose a session (above)")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"

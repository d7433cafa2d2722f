"""The `mosh` wrapper's bootstrap: start `mosh-server new` over ssh (or locally), read its
`MOSH CONNECT <port> <key>`, learn which IP to reach it on, then run the client.

Behaviour follows upstream's `scripts/mosh.pl`:
- The server command is `SERVER new -c COLORS [-s | -i IP] [-p PORT] [-l NAME=VALUE]...
  [-- command...]`; COLORS is what `CLIENT -c` prints; SERVER is a shell command (so
  `--server="env X=1 mosh-server"` works) and its arguments are shell-quoted.
- ssh runs as `SSH -n -tt [-4|-6] [-S none -o ProxyCommand=...] USERHOST -- COMMAND`, its
  stderr merged into the stdout we read. `-tt` gives password prompts and the remote shell a
  terminal; prompts go to /dev/tty, never through our pipe.
- Where the client should send UDP (`--experimental-remote-ip`):
  `proxy` (default): ssh's ProxyCommand is `mosh --fake-proxy -- %h %p`, which connects to
  the host the way ssh would have, prints `MOSH IP <address>` on stderr and relays bytes —
  so the client uses exactly the address ssh reached, whatever ssh_config said.
  `local`: resolve the host here and give ssh the address.
  `remote`: the remote side prints `MOSH SSH_CONNECTION ...` from $SSH_CONNECTION.
- `--local`: run the server command here through /bin/sh, without SSH_CONNECTION, in $HOME.
- The client gets MOSH_KEY, MOSH_PREDICTION_DISPLAY, MOSH_NO_TERM_INIT=1 for `--no-init`,
  MOSH_PREDICTION_OVERWRITE=yes for `-o`; MOSH_ESCAPE_KEY and MOSH_TITLE_NOPREFIX reach it
  through the inherited environment. A `--client=PATH` is exec'd with them and with
  `-# '<original args> |'` for ps.

Where we differ: lines that are not MOSH lines are held back rather than echoed as they
arrive; on success they are printed before the client starts, on failure the error is one
line built from the most telling of them (ssh's last message, the proxy's error). Upstream's
`die` exits with whatever errno was last set; we always exit 255 (what ssh uses). Our own
client runs in this process (its modules are imported while the server starts: start-up
time), not as a second program; for `--local`, the mosh-server installed beside this `mosh`
is preferred to the one on PATH (a virtualenv need not be on PATH).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeAlias

from mosh_client.client_args import (
    ClientUsageError,
    InfoRequest,
    parse_client_args,
    terminal_colors,
)
from mosh_client.mosh_args import BIND_ANY, BIND_SSH, FakeProxyRequest, Family, MoshOptions
from ssp.key import Key, MalformedKey

EXIT_FAILURE = 255  # what ssh exits with when it fails, and upstream's usual `die` status
LOCALE_NAMES = (
    "LANG",
    "LANGUAGE",
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "LC_MONETARY",
    "LC_MESSAGES",
    "LC_PAPER",
    "LC_NAME",
    "LC_ADDRESS",
    "LC_TELEPHONE",
    "LC_MEASUREMENT",
    "LC_IDENTIFICATION",
    "LC_ALL",
)
FAKE_PROXY_PREFIX = "mosh --fake-proxy: "
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
REAP_TIMEOUT = 5.0  # after MOSH CONNECT, how long ssh gets to exit before we kill it
COLORS_TIMEOUT = 10.0
_RELAY_CHUNK = 65536

GetAddrInfo: TypeAlias = Callable[..., list[tuple[Any, ...]]]


class BootstrapError(Exception):
    """The session could not be set up; the message is one line saying what to do."""


# --- the commands we run --------------------------------------------------------------------
def locale_assignments(environ: Mapping[str, str]) -> list[str]:
    """`NAME=VALUE` for each locale variable set here: the server falls back to them when
    its own locale is not UTF-8."""
    return [f"{name}={environ[name]}" for name in LOCALE_NAMES if name in environ]


def bind_arguments(options: MoshOptions) -> list[str]:
    if options.bind_server == BIND_SSH:
        # Reply from the address the ssh connection arrived on; locally there is no ssh
        # connection, and the host is the (numeric) address the client will use.
        return ["-i", options.userhost] if options.local else ["-s"]
    if options.bind_server == BIND_ANY:
        return []
    return ["-i", options.bind_server]


def server_arguments(options: MoshOptions, colors: int, environ: Mapping[str, str]) -> list[str]:
    """The arguments after the server command: `new -c COLORS ... [-- command...]`."""
    args = ["new", "-c", str(colors), *bind_arguments(options)]
    if options.port_request is not None:
        args += ["-p", options.port_request]
    for assignment in locale_assignments(environ):
        args += ["-l", assignment]
    if options.command:
        args += ["--", *options.command]
    return args


def server_command_line(server: str, server_args: Sequence[str]) -> str:
    # SERVER is deliberately not quoted: it is a command line of its own (`env X=1 path`).
    return f"{server} {shlex.join(server_args)}"


# Run by the remote login shell, which may not be POSIX (fish, csh): ask sh explicitly.
_PRINT_SSH_CONNECTION = (
    "sh -c "
    + shlex.quote(
        '[ -n "$SSH_CONNECTION" ] && printf "\\nMOSH SSH_CONNECTION %s\\n" "$SSH_CONNECTION"'
    )
    + " ; "
)


def remote_command(options: MoshOptions, server: str, server_args: Sequence[str]) -> str:
    prefix = _PRINT_SSH_CONNECTION if options.remote_ip == "remote" else ""
    return prefix + server_command_line(server, server_args)


def proxy_command(mosh_path: str, family: Family) -> str:
    """ssh's ProxyCommand: this very program as a relay that reports the address it reached.
    ssh expands `%` tokens in it, so a `%` in our own path is doubled."""
    quoted = shlex.join([mosh_path.replace("%", "%%"), f"--family={family}"])
    return f"{quoted} --fake-proxy -- %h %p"


def ssh_argv(
    options: MoshOptions, userhost: str, server: str, server_args: Sequence[str], mosh_path: str
) -> list[str]:
    argv = [*options.ssh, "-n"]
    if options.ssh_pty:
        argv.append("-tt")
    if options.remote_ip == "remote":
        # Only here does ssh pick the address itself; in the other modes we already did.
        if options.family == "inet":
            argv.append("-4")
        elif options.family == "inet6":
            argv.append("-6")
    if options.remote_ip == "proxy":
        # -S none: a shared ControlMaster connection would never run our ProxyCommand.
        argv += ["-S", "none", "-o", f"ProxyCommand={proxy_command(mosh_path, options.family)}"]
    return [*argv, userhost, "--", remote_command(options, server, server_args)]


def ssh_environment(options: MoshOptions, environ: Mapping[str, str]) -> dict[str, str]:
    env = _base_environment(environ)
    if options.remote_ip == "proxy":
        # ssh runs the ProxyCommand with $SHELL; exotic shells and noisy rc files break it.
        env["SHELL"] = "/bin/sh"
    return env


def local_server_environment(environ: Mapping[str, str]) -> dict[str, str]:
    env = _base_environment(environ)
    env.pop("SSH_CONNECTION", None)  # else `mosh-server -s` would bind the wrong address
    return env


def _base_environment(environ: Mapping[str, str]) -> dict[str, str]:
    env = dict(environ)
    env.pop("MOSH_PREDICTION_DISPLAY", None)  # resolved already; the client gets it back
    env["MOSH_CLIENT_PID"] = str(os.getpid())  # upstream sets it; handy when debugging
    return env


def find_program(name: str, beside: Iterable[Path], path: str | None = None) -> str:
    """The `name` installed beside this `mosh`, else `name` on PATH, else `name` (to fail
    visibly later). Ours first: its protocol is not upstream's, and a system may have both."""
    for directory in beside:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name, path=path) or name


def own_directories() -> list[Path]:
    """Where this `mosh` is installed: its script's directory, and that of the file a
    symlink to it points at (`/usr/local/bin/mosh` → `/opt/moshd/venv/bin/mosh`)."""
    script = Path(os.path.abspath(sys.argv[0]))
    return list(dict.fromkeys([script.parent, script.resolve().parent]))


def own_path() -> str:
    """This program, for ssh to run as `mosh --fake-proxy`."""
    me = os.path.abspath(sys.argv[0])
    if os.path.basename(me) == "mosh" and os.access(me, os.X_OK):
        return me
    return shutil.which("mosh") or "mosh"


def default_server(options: MoshOptions) -> str:
    if options.server is not None:
        return options.server
    if options.local:
        return shlex.quote(find_program("mosh-server", own_directories()))
    return "mosh-server"  # found by the remote PATH


# --- reading the bootstrap's output ---------------------------------------------------------
@dataclass
class BootstrapOutput:
    """What the server command (and ssh, and the proxy) said, line by line."""

    ip: str | None = None  # known before reading with --local and remote-ip=local
    ssh_connection_ip: str | None = None
    port: int | None = None
    key: Key | None = None
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


def parse_connect_line(line: str) -> tuple[int, Key]:
    """`MOSH CONNECT <port> <key>` → (port, key). Raises BootstrapError."""
    match = _CONNECT.fullmatch(line.strip())
    if match is None or not 1 <= int(match.group(1)) <= 65535:
        raise BootstrapError(f"Bad MOSH CONNECT string from the server: {line.strip()!r}")
    try:
        key = Key.from_text(match.group(2))
    except MalformedKey as exc:
        # e.g. upstream's mosh-server (16-byte keys): our client speaks a different protocol.
        raise BootstrapError(
            f"the server's key is not one this client can use ({exc}): is the server's "
            "mosh-server this implementation (moshd)?"
        ) from None
    return int(match.group(1)), key


def unmap_ipv4(text: str) -> str:
    """`::ffff:192.0.2.1` (IPv4 on a dual-stack socket) → `192.0.2.1`; others unchanged."""
    with suppress(ValueError):
        address = ipaddress.ip_address(text)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
    return text


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


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


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


# --- addresses --------------------------------------------------------------------------------
_FAMILIES = {"inet": socket.AF_INET, "inet6": socket.AF_INET6}


def resolve(
    host: str, port: str, family: Family, getaddrinfo: GetAddrInfo = socket.getaddrinfo
) -> list[tuple[socket.AddressFamily, Any]]:
    """(family, sockaddr) pairs to try for a TCP connection, in order, as `--family` says."""
    wanted = _FAMILIES.get(family, socket.AF_UNSPEC)
    try:
        infos = getaddrinfo(host, port, wanted, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        which = {"inet": "an IPv4 ", "inet6": "an IPv6 "}.get(family, "an ")
        raise BootstrapError(
            f"could not find {which}address for {host}: {exc.strerror}"
            + (" (try another --family)" if family in _FAMILIES else "")
        ) from None
    return order_addresses(host, [(info[0], info[4]) for info in infos], family)


def order_addresses(
    host: str, addresses: list[tuple[socket.AddressFamily, Any]], family: Family
) -> list[tuple[socket.AddressFamily, Any]]:
    unique = list(dict.fromkeys((fam, tuple(addr)) for fam, addr in addresses))
    if family in _FAMILIES:
        chosen = [item for item in unique if item[0] == _FAMILIES[family]]
        if not chosen:
            kind = "IPv4" if family == "inet" else "IPv6"
            raise BootstrapError(f"{host} has no {kind} address (--family={family})")
        return chosen
    if family.startswith("prefer-"):
        first = _FAMILIES[family.removeprefix("prefer-")]
        return [i for i in unique if i[0] == first] + [i for i in unique if i[0] != first]
    if family == "auto" and len({fam for fam, _ in unique}) > 1:
        raise BootstrapError(
            f"{host} has both IPv4 and IPv6 addresses, use --family to specify behavior"
        )
    return unique


def resolve_first(host: str, family: Family) -> str:
    """`--experimental-remote-ip=local`: the address ssh and the client will both use."""
    candidates = resolve(host, "22", family)
    if not candidates:
        raise BootstrapError(f"could not find an address for {host}")
    return str(candidates[0][1][0])


# --- the fake proxy -------------------------------------------------------------------------
def run_fake_proxy(request: FakeProxyRequest, stdin_fd: int = 0, stdout_fd: int = 1) -> int:
    """Connect to HOST PORT as ssh would, say `MOSH IP <address>` on stderr, relay bytes."""
    # ssh hangs up on us when it exits; keep relaying what it wrote last, as upstream does.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        sock, address = connect_first(request.host, request.port, request.family)
    except BootstrapError as exc:
        print(f"{FAKE_PROXY_PREFIX}{exc}", file=sys.stderr, flush=True)
        return EXIT_FAILURE
    print(f"MOSH IP {address}", file=sys.stderr, flush=True)
    with sock:
        relay(sock, stdin_fd, stdout_fd)
    return 0


def connect_first(host: str, port: str, family: Family) -> tuple[socket.socket, str]:
    last_error = "no address to try"
    address = host
    for fam, sockaddr in resolve(host, port, family):
        address = str(sockaddr[0])
        sock = socket.socket(fam, socket.SOCK_STREAM)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last_error = exc.strerror or str(exc)
            continue
        return sock, address
    raise BootstrapError(
        f"Could not connect to {host} port {port}, last tried {address}: {last_error}"
    )


def relay(sock: socket.socket, stdin_fd: int, stdout_fd: int) -> None:
    """Copy stdin → socket (then half-close) and socket → stdout until the peer closes."""

    def to_socket() -> None:
        with suppress(OSError):
            while data := os.read(stdin_fd, _RELAY_CHUNK):
                sock.sendall(data)
        with suppress(OSError):
            sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=to_socket, daemon=True).start()
    with suppress(OSError):
        while data := sock.recv(_RELAY_CHUNK):
            _write_all(stdout_fd, data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# --- the client -------------------------------------------------------------------------------
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
            f"cannot run the client {client!r} ({_reason(exc)}): install mosh-client, "
            "or give its path with --client=PATH"
        ) from None
    if result.returncode != 0:
        raise BootstrapError(f"'{client} -c' failed (exit {result.returncode}): is it mosh-client?")
    text = result.stdout.decode(errors="replace").strip()
    return int(text) if text.isascii() and text.isdigit() else 0


def client_environment(
    options: MoshOptions, key: Key, environ: Mapping[str, str]
) -> dict[str, str]:
    env = _base_environment(environ)
    env["MOSH_KEY"] = key.text
    env["MOSH_PREDICTION_DISPLAY"] = options.predict
    if not options.term_init:
        env["MOSH_NO_TERM_INIT"] = "1"
    if options.predict_overwrite:
        env["MOSH_PREDICTION_OVERWRITE"] = "yes"
    return env


def client_argv(client: str, options: MoshOptions, ip: str, port: int) -> list[str]:
    # -# shows the user's mosh command line in ps; the client ignores it.
    return [client, "-#", " ".join(options.argv) + " |", ip, str(port)]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"no answer within {exc.timeout:g} s"
    return str(exc)


# --- running it all ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """The command that starts the server, and what we know before it speaks."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    known_ip: str | None
    what: str  # for messages: "ssh" or the local server command


def make_plan(
    options: MoshOptions, colors: int, environ: Mapping[str, str], mosh_path: str
) -> Plan:
    server = default_server(options)
    server_args = server_arguments(options, colors, environ)
    if options.local:
        home = environ.get("HOME")
        return Plan(
            argv=["/bin/sh", "-c", server_command_line(server, server_args)],
            env=local_server_environment(environ),
            cwd=home if home and os.path.isdir(home) else None,
            known_ip=options.userhost,
            what=server,
        )
    userhost, known_ip = options.userhost, None
    if options.remote_ip == "local":
        known_ip = resolve_first(options.host, options.family)
        userhost = options.userhost[: len(options.userhost) - len(options.host)] + known_ip
    return Plan(
        argv=ssh_argv(options, userhost, server, server_args, mosh_path),
        env=ssh_environment(options, environ),
        cwd=None,
        known_ip=known_ip,
        what=options.ssh[0],
    )


def start_server(
    plan: Plan, options: MoshOptions, while_waiting: Callable[[], object] = lambda: None
) -> BootstrapOutput:
    """Run the plan until `MOSH CONNECT`; raises BootstrapError with the reason otherwise.
    `while_waiting` runs once the server is started, before its answer is read."""
    output = BootstrapOutput(ip=plan.known_ip)
    try:
        process = subprocess.Popen(
            plan.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=plan.env,
            cwd=plan.cwd,
        )
    except OSError as exc:
        raise BootstrapError(
            f"cannot run {plan.what!r} ({_reason(exc)}): install it, or choose another with "
            + ("--server=COMMAND" if options.local else "--ssh=COMMAND")
        ) from None
    while_waiting()
    connected = False
    try:
        assert process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                if output.feed(raw.decode(errors="replace")):
                    connected = True
                    break  # like upstream: what the server says afterwards is not ours to show
    finally:
        returncode = _reap(process)
    if not connected:
        raise explain_failure(output, returncode, options, default_server(options))
    return output


def _reap(process: subprocess.Popen[bytes]) -> int:
    try:
        return process.wait(timeout=REAP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def run_bootstrap(options: MoshOptions, environ: Mapping[str, str]) -> int:
    """Start the server, then run the client until it ends; its exit status. Raises
    BootstrapError on any failure before the client starts.

    Our own client runs in this process, and its modules (trio, PyNaCl: most of its start-up
    time) are imported while the server starts, so that `mosh` reaches a prompt about as fast
    as upstream's C++ programs. A client given with --client=PATH is exec'd, as upstream does.
    """
    require_terminal()  # before any server starts: both clients need one
    if options.client is not None:
        _exec_client(options.client, options, environ)
    colors = terminal_colors()
    output = start_server(
        make_plan(options, colors, environ, own_path()), options, while_waiting=_import_client
    )
    ip = connect_ip(output, options)
    assert output.port is not None and output.key is not None
    _show_server_lines(output)
    from mosh_client.client_run import run_client  # imported already, while the server started

    env = client_environment(options, output.key, environ)
    try:
        config = parse_client_args([ip, str(output.port)], env)
    except ClientUsageError as exc:
        raise BootstrapError(str(exc)) from None
    assert not isinstance(config, InfoRequest)
    return run_client(config)


def require_terminal(fd: int = 0) -> None:
    """Raise BootstrapError unless `fd` (stdin) is a terminal. The client puts it in raw mode
    to read keystrokes; found out only after the server started, that would leave a session
    (and its login shell) behind for nobody."""
    if not os.isatty(fd):
        raise BootstrapError(
            "standard input is not a terminal: mosh needs one for the session "
            "(no session was started)"
        )


def _import_client() -> None:
    import mosh_client.client_run  # noqa: F401  (start-up time: see run_bootstrap)


def _exec_client(client: str, options: MoshOptions, environ: Mapping[str, str]) -> NoReturn:
    colors = count_colors(client, environ)
    output = start_server(make_plan(options, colors, environ, own_path()), options)
    ip = connect_ip(output, options)
    assert output.port is not None and output.key is not None
    _show_server_lines(output)
    try:
        os.execvpe(
            client,
            client_argv(client, options, ip, output.port),
            client_environment(options, output.key, environ),
        )
    except OSError as exc:
        raise BootstrapError(
            f"cannot run the client {client!r} ({_reason(exc)}): give its path with --client=PATH"
        ) from None


def _show_server_lines(output: BootstrapOutput) -> None:
    """What the server said besides MOSH CONNECT (upstream shows it before the session)."""
    for line in output.lines:
        if line.strip():
            print(line)
    sys.stdout.flush()
    sys.stderr.flush()

"""`mosh`'s command line — parsing and validation only, no side effects.

    mosh [options] [--] [user@]host [command...]
    mosh --fake-proxy [--family=F] -- HOST PORT      (what ssh's ProxyCommand runs)

The specification is upstream's wrapper, `scripts/mosh.pl`, and its man page `mosh.1`:
- Options are GNU-style and may follow the host (upstream's Getopt::Long permutes), so a remote
  command with options of its own needs `--`: `mosh host -- ls -l`.
- `--predict` beats MOSH_PREDICTION_DISPLAY, which beats the default `adaptive`; an unknown
  mode is an error even when it came from the environment.
- `-p PORT[:PORT2]`: 0..65535; a range may not start at 0 (`-p 0` lets the OS pick).
- `--bind-server=ssh` (default) becomes `mosh-server -s`, or `-i HOST` with `--local`;
  `any` adds nothing; anything else is an address for `-i`.
- `--family` is case-insensitive, as upstream lower-cases it.

Deliberate differences: Getopt::Long also accepts single-dash long options (`-local`) and
`--noinit`; we accept only `--local` and `--no-init`. We check `--bind-server=IP` and
`--local`'s host here instead of letting the server or the client reject them later.
"""

from __future__ import annotations

import getopt
import ipaddress
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar, get_args

from mosh_client.client_args import PREDICTION_MODES, PredictionMode
from ssp.ports import MAX_PORT, split_port_range

Family = Literal["inet", "inet6", "auto", "all", "prefer-inet", "prefer-inet6"]
FAMILIES: tuple[Family, ...] = get_args(Family)
RemoteIpMode = Literal["proxy", "local", "remote"]
REMOTE_IP_MODES: tuple[RemoteIpMode, ...] = get_args(RemoteIpMode)
DEFAULT_FAMILY: Family = "prefer-inet"
BIND_SSH, BIND_ANY = "ssh", "any"

_SHORT_OPTIONS = "anop:46"
_LONG_OPTIONS = [
    "client=",
    "server=",
    "predict=",
    "predict-overwrite",
    "no-predict-overwrite",
    "port=",
    "family=",
    "ssh=",
    "ssh-pty",
    "no-ssh-pty",
    "init",
    "no-init",
    "local",
    "help",
    "version",
    "fake-proxy",
    "no-fake-proxy",
    "bind-server=",
    "experimental-remote-ip=",
    "attach=",  # also a bare `--attach`: see _bare_attach
]


class MoshUsageError(Exception):
    """The command line is unusable; the message is one line saying what to fix."""


@dataclass(frozen=True)
class MoshOptions:
    """A session to bootstrap. `client`/`server` None: the defaults (see bootstrap)."""

    userhost: str  # as typed: host, user@host, or (with --local) a numeric address
    command: tuple[str, ...] = ()  # empty: the remote login shell
    client: str | None = None
    server: str | None = None  # a shell COMMAND, not just a path (`env X=1 mosh-server`)
    ssh: tuple[str, ...] = ("ssh",)
    predict: PredictionMode = "adaptive"
    predict_overwrite: bool = False
    family: Family = DEFAULT_FAMILY
    port_request: str | None = None
    bind_server: str = BIND_SSH  # "ssh", "any" or an IP address
    term_init: bool = True
    local: bool = False
    ssh_pty: bool = True
    remote_ip: RemoteIpMode = "proxy"
    argv: tuple[str, ...] = ()  # the original arguments, shown to `ps` through `-#`
    # --attach[=ID]: take over a live session instead of starting one ("": the only detached)
    attach: str | None = None

    @property
    def host(self) -> str:
        """The host part of `user@host` (everything after the last `@`, as upstream)."""
        return self.userhost.rpartition("@")[2]


@dataclass(frozen=True)
class FakeProxyRequest:
    """`mosh --fake-proxy -- HOST PORT`: relay ssh's connection, reporting the address used."""

    host: str
    port: str
    family: Family = DEFAULT_FAMILY


@dataclass(frozen=True)
class InfoRequest:
    what: Literal["help", "version"]


def usage(prog: str = "mosh") -> str:
    return f"""\
Usage: {prog} [options] [--] [user@]host [command...]
        --client=PATH        mosh client on local machine
                                (default: "mosh-client")
        --server=COMMAND     mosh server on remote machine
                                (default: "mosh-server")

        --predict=adaptive      local echo for slower links [default]
-a      --predict=always        use local echo even on fast links
-n      --predict=never         never use local echo
        --predict=experimental  aggressively echo even when incorrect

-o      --predict-overwrite     prediction overwrites instead of inserting

-4      --family=inet        use IPv4 only
-6      --family=inet6       use IPv6 only
        --family=auto        autodetect network type for single-family hosts only
        --family=all         try all network types
        --family=prefer-inet use all network types, but try IPv4 first [default]
        --family=prefer-inet6 use all network types, but try IPv6 first
-p PORT[:PORT2]
        --port=PORT[:PORT2]  server-side UDP port or range
                                (No effect on server-side SSH port)
        --bind-server={{ssh|any|IP}}  ask the server to reply from an IP address
                                       (default: "ssh")

        --ssh=COMMAND        ssh command to run when setting up session
                                (example: "ssh -p 2222")
                                (default: "ssh")

        --no-ssh-pty         do not allocate a pseudo tty on ssh connection

        --no-init            do not send terminal initialization string

        --local              run mosh-server locally without using ssh

        --attach[=ID]        take over a live session of yours on the server
                                (without ID: the only detached one)

        --experimental-remote-ip=(local|remote|proxy)  select the method for
                             discovering the remote IP address to use for mosh
                             (default: "proxy")

        --help               this message
        --version            version and copyright information
"""


def parse_mosh_args(
    argv: Sequence[str], environ: Mapping[str, str]
) -> MoshOptions | FakeProxyRequest | InfoRequest:
    """Parse `argv` (without the program name). Raises MoshUsageError."""
    try:
        options, positional = getopt.gnu_getopt(_bare_attach(argv), _SHORT_OPTIONS, _LONG_OPTIONS)
    except getopt.GetoptError as exc:
        raise MoshUsageError(_getopt_hint(exc)) from None
    values = _collect(options)
    if "help" in values:
        return InfoRequest("help")
    if "version" in values:
        return InfoRequest("version")
    family = parse_family(values.get("family", DEFAULT_FAMILY))
    if values.get("fake-proxy") == "yes":
        return _fake_proxy_request(positional, family)
    # The values are checked before the host is looked for, as upstream does: an option
    # that takes a value eats the next word, so `mosh --predict HOST` must say that HOST is
    # no prediction mode, not that the host is missing.
    predict = choose_prediction(values.get("predict"), environ)
    remote_ip = parse_remote_ip(values.get("experimental-remote-ip", "proxy"))
    port_request = check_port_request(values["port"]) if "port" in values else None
    bind_server = parse_bind_server(values.get("bind-server", BIND_SSH))
    ssh = parse_ssh_command(values["ssh"]) if "ssh" in values else ("ssh",)
    if not positional:
        raise MoshUsageError("no host given: mosh [options] [--] [user@]host [command...]")
    userhost, *command = positional
    attach = values.get("attach")
    if attach is not None and command:
        raise MoshUsageError("--attach takes over a session that runs already: it takes no command")
    local = "local" in values
    if local:
        check_local_host(userhost)
    return MoshOptions(
        userhost=userhost,
        command=tuple(command),
        client=values.get("client"),
        server=values.get("server"),
        ssh=ssh,
        predict=predict,
        predict_overwrite=values.get("predict-overwrite") == "yes",
        family=family,
        port_request=port_request,
        bind_server=bind_server,
        term_init=values.get("init", "yes") == "yes",
        local=local,
        ssh_pty=values.get("ssh-pty", "yes") == "yes",
        remote_ip=remote_ip,
        argv=tuple(argv),
        attach=attach,
    )


def _bare_attach(argv: Sequence[str]) -> list[str]:
    """`--attach` without `=ID` is `--attach=` (getopt has no optional values); only before
    `--`, after which everything is the remote command's."""
    words = list(argv)
    end = words.index("--") if "--" in words else len(words)
    return [("--attach=" if word == "--attach" else word) for word in words[:end]] + words[end:]


def _getopt_hint(exc: getopt.GetoptError) -> str:
    # Upstream permutes too, so `mosh host ls -l` trips over `-l`: say how to pass it on.
    return f"{exc.msg} (a remote command's options go after --: mosh host -- ls -l; try --help)"


def _collect(options: list[tuple[str, str]]) -> dict[str, str]:
    """Fold getopt's list into one value per setting; the last occurrence wins, as upstream.

    Flags become "yes"/"no" (`--no-init` sets "init" to "no")."""
    values: dict[str, str] = {}
    for option, value in options:
        if option in _SHORT_ALIASES:
            name, value = _SHORT_ALIASES[option]
        elif option == "-p":
            name = "port"
        elif option.startswith("--no-"):
            name, value = option[len("--no-") :], "no"
        elif option in _TAKES_VALUE:
            name = option[2:]
        else:
            name, value = option[2:], "yes"
        values[name] = value
    return values


_SHORT_ALIASES = {
    "-a": ("predict", "always"),
    "-n": ("predict", "never"),
    "-4": ("family", "inet"),
    "-6": ("family", "inet6"),
    "-o": ("predict-overwrite", "yes"),
}
_TAKES_VALUE = {f"--{name[:-1]}" for name in _LONG_OPTIONS if name.endswith("=")}


def _fake_proxy_request(positional: list[str], family: Family) -> FakeProxyRequest:
    if len(positional) != 2:
        raise MoshUsageError("--fake-proxy needs exactly HOST and PORT (ssh passes %h %p)")
    return FakeProxyRequest(host=positional[0], port=positional[1], family=family)


def choose_prediction(option: str | None, environ: Mapping[str, str]) -> PredictionMode:
    """--predict, else MOSH_PREDICTION_DISPLAY, else adaptive — each checked."""
    if option is not None:
        return parse_prediction(option, "")
    from_env = environ.get("MOSH_PREDICTION_DISPLAY")
    if from_env is not None:
        return parse_prediction(from_env, " (MOSH_PREDICTION_DISPLAY in environment)")
    return "adaptive"


_Choice = TypeVar("_Choice", bound=str)


def _one_of(text: str, choices: tuple[_Choice, ...], unknown: str) -> _Choice:
    """The choice spelled `text`, or a usage error starting with `unknown`."""
    for choice in choices:
        if text == choice:
            return choice
    raise MoshUsageError(f"{unknown}: expected one of {', '.join(choices)}")


def parse_prediction(text: str, explanation: str) -> PredictionMode:
    return _one_of(text, PREDICTION_MODES, f'Unknown mode "{text}"{explanation}')


def parse_family(text: str) -> Family:
    return _one_of(text.lower(), FAMILIES, f"Unknown --family {text!r}")


def parse_remote_ip(text: str) -> RemoteIpMode:
    return _one_of(text, REMOTE_IP_MODES, f"Unknown --experimental-remote-ip {text!r}")


def parse_bind_server(text: str) -> str:
    if text.lower() in (BIND_SSH, BIND_ANY):
        return text.lower()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise MoshUsageError(
            f"Unknown server binding option {text!r}: expected ssh, any or an IP address"
        ) from None


def parse_ssh_command(text: str) -> tuple[str, ...]:
    """`--ssh="ssh -p 2222"`: split as a shell would (upstream uses Text::ParseWords)."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise MoshUsageError(f"--ssh={text!r}: {exc} (check its quotes)") from None
    if not words:
        raise MoshUsageError("--ssh is empty: give the ssh command, e.g. --ssh='ssh -p 2222'")
    return tuple(words)


def check_port_request(text: str) -> str:
    """Validate `-p PORT[:PORT2]` with upstream's rules and messages; returned unchanged."""
    parts = split_port_range(text)
    if parts is None:
        raise MoshUsageError(f"Server-side port or range ({text}) is not valid.")
    low, high = parts
    if low > MAX_PORT:
        raise MoshUsageError(
            f"Server-side (low) port ({low}) must be within valid range [0..{MAX_PORT}]."
        )
    if high is not None:
        if not 1 <= high <= MAX_PORT:
            raise MoshUsageError(
                f"Server-side high port ({high}) must be within valid range [1..{MAX_PORT}]."
            )
        if low == 0:
            raise MoshUsageError(
                f"Server-side port ranges may not be used with starting port 0 ({text})."
            )
        if low > high:
            raise MoshUsageError(
                f"Server-side port range ({text}): low port greater than high port."
            )
    return text


def check_local_host(userhost: str) -> None:
    """`--local` hands the host to `mosh-server -i` and to the client: it must be numeric."""
    try:
        ipaddress.ip_address(userhost)
    except ValueError:
        raise MoshUsageError(
            f"--local needs a numeric IPv4 or IPv6 address of this machine, not {userhost!r} "
            "(e.g. mosh --local 127.0.0.1)"
        ) from None

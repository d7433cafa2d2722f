"""`mosh-client`'s command line and environment — parsing only, no side effects but one:
the session key is taken out of the environment it is read from.

    MOSH_KEY=KEY mosh-client [-v]... [-# 'ARGS'] [--no-init] IP PORT
    mosh-client -c | --help | --version

As upstream (`src/frontend/mosh-client.cc`, `stmclient.h`, `stmclient.cc`):
- `-#` carries the original `mosh` command line for `ps` to show; it is ignored.
- `-v` may be repeated; `-c` asks for the terminal's colour count; `--help`, `--version`.
- IP must be a numeric address (upstream resolves it with AI_NUMERICHOST: no DNS).
- PORT must be all digits (we also insist on 1–65535).
- MOSH_KEY is required and removed from the environment once read.
- MOSH_PREDICTION_DISPLAY: adaptive (default), always, never, experimental; anything else,
  even an empty value, is an error ("Unknown prediction mode").
- MOSH_PREDICTION_OVERWRITE=yes makes predictions overwrite instead of insert.
- MOSH_ESCAPE_KEY: see `mosh_client.escape.parse_escape_key` (never an error).
- MOSH_TITLE_NOPREFIX, when set to anything, drops the "[mosh] " title prefix.
- MOSH_NO_TERM_INIT, when set to anything (the `mosh --no-init` wrapper sets it), or our
  `--no-init` option: do not switch to the alternate screen.
"""

from __future__ import annotations

import getopt
import ipaddress
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from mosh_client.escape import DEFAULT_ESCAPE_KEY, parse_escape_key
from ssp.key import Key, MalformedKey
from ssp.ports import MAX_PORT, port_number
from ssp.proto2.key import Proto2Key, parse_connect_key

PredictionMode = Literal["adaptive", "always", "never", "experimental"]
PREDICTION_MODES: tuple[PredictionMode, ...] = get_args(PredictionMode)
TITLE_PREFIX = "[mosh] "


class ClientUsageError(Exception):
    """The command line or environment is unusable; the message is one line for the user."""


@dataclass(frozen=True)
class ClientConfig:
    host: str
    port: int
    key: Key | Proto2Key  # moshd's, or a stock mosh-server's (protocol 2)
    prediction: PredictionMode = "adaptive"
    escape_key: int | None = DEFAULT_ESCAPE_KEY  # None: escape sequences disabled
    title_prefix: str = TITLE_PREFIX  # "" with MOSH_TITLE_NOPREFIX
    alternate_screen: bool = True  # False with --no-init / MOSH_NO_TERM_INIT
    verbose: int = 0  # how many -v
    predict_overwrite: bool = False  # MOSH_PREDICTION_OVERWRITE=yes


@dataclass(frozen=True)
class InfoRequest:
    """Print something and exit 0 instead of connecting: usage, version or colour count."""

    what: Literal["help", "version", "colors"]


def usage(prog: str = "mosh-client") -> str:
    return (
        f"Usage: MOSH_KEY=KEY {prog} [-v] [-# 'ARGS'] [--no-init] IP PORT\n"
        f"       {prog} -c\n"
        f"       {prog} --help | --version\n"
    )


def parse_client_args(
    args: Sequence[str], environ: MutableMapping[str, str]
) -> ClientConfig | InfoRequest:
    """Parse `args` (without the program name) and `environ`.

    Raises ClientUsageError for anything unusable. MOSH_KEY is popped from `environ` whenever a
    configuration is returned or the key was the problem.
    """
    # Upstream looks for --help/--version anywhere before it parses options at all.
    for arg in args:
        if arg in ("--help", "--version"):
            return InfoRequest("help" if arg == "--help" else "version")
    try:
        options, positional = getopt.gnu_getopt(list(args), "#:cv", ["no-init"])
    except getopt.GetoptError as exc:
        raise ClientUsageError(f"{exc.msg} (try --help)") from None

    verbose = 0
    no_init = False
    for option, _value in options:
        if option == "-c":
            return InfoRequest("colors")
        if option == "-v":
            verbose += 1
        elif option == "--no-init":
            no_init = True
        # -# only labels the process for ps; its value is deliberately ignored.

    if len(positional) != 2:
        raise ClientUsageError(
            f"expected IP and PORT, got {len(positional)} argument(s) (try --help)"
        )
    host = parse_address(positional[0])
    port = parse_port(positional[1])
    key = take_key(environ)
    return ClientConfig(
        host=host,
        port=port,
        key=key,
        prediction=parse_prediction_mode(environ.get("MOSH_PREDICTION_DISPLAY")),
        escape_key=parse_escape_key(environ.get("MOSH_ESCAPE_KEY")),
        title_prefix="" if "MOSH_TITLE_NOPREFIX" in environ else TITLE_PREFIX,
        alternate_screen=not (no_init or "MOSH_NO_TERM_INIT" in environ),
        verbose=verbose,
        predict_overwrite=environ.get("MOSH_PREDICTION_OVERWRITE") == "yes",
    )


def take_key(environ: MutableMapping[str, str]) -> Key | Proto2Key:
    """Pop MOSH_KEY from `environ` (so no child process inherits it) and parse it: 43
    characters are moshd's key, 22 a stock mosh-server's (protocol 2).

    Read once per run, never retried: protocol 2 has no nonce epoch, so a second run with
    the same key would reuse its nonces."""
    text = environ.pop("MOSH_KEY", None)
    if text is None:
        raise ClientUsageError("MOSH_KEY environment variable not found.")
    try:
        return parse_connect_key(text)
    except MalformedKey as exc:
        raise ClientUsageError(f"MOSH_KEY is not a valid session key: {exc}") from None


def parse_address(text: str) -> str:
    """Check that `text` is a numeric IPv4 or IPv6 address (a zone such as `%eth0` allowed).

    It is returned as given: the socket layer takes it as is, and it is what the user typed.
    """
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ClientUsageError(
            f"Bad IP address ({text!r}): mosh-client needs a numeric IPv4 or IPv6 address"
        ) from None
    return text


def parse_port(text: str) -> int:
    number = port_number(text)  # ASCII digits only, as upstream
    if number is None or not 1 <= number <= MAX_PORT:
        raise ClientUsageError(f"Bad UDP port ({text!r}): expected a number from 1 to {MAX_PORT}")
    return number


def parse_prediction_mode(value: str | None) -> PredictionMode:
    if value is None:
        return "adaptive"
    for mode in PREDICTION_MODES:
        if value == mode:  # exact, as upstream's strcmp: "Always" is an error
            return mode
    raise ClientUsageError(
        f"Unknown prediction mode {value!r} in MOSH_PREDICTION_DISPLAY "
        f"(expected one of: {', '.join(PREDICTION_MODES)})"
    )


def terminal_colors() -> int:
    """`mosh-client -c`: how many colours the local terminal has (as the wrapper asks)."""
    import curses  # only `-c` and the wrapper need it (start-up time)

    try:
        curses.setupterm()
    except curses.error:
        return 8
    return max(curses.tigetnum("colors"), 8)

"""Parsing a request line into a request: everything a line from the socket may hold is
checked here, within the limits below, and anything else is a ProtocolError.

Unknown request fields are ignored, so that a newer `mosh-server` can still talk to an older
daemon that is running across an upgrade.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from typing import Any

from moshd.control.errors import ProtocolError
from moshd.control.framing import MAX_LINE_BYTES
from moshd.control.messages import (
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    NATIVE_PROTOCOL,
    PROTOCOLS,
    AttachRequest,
    KillRequest,
    ListRequest,
    NewRequest,
    Request,
    StatusRequest,
)
from moshd.ports import PortRange, PortSpecError, parse_port_spec

MAX_DIMENSION = 4096  # beyond any real screen; bounds the emulator's memory
MAX_COLORS = 1 << 24  # `tput colors` of a direct-colour terminal
MAX_TIMEOUT_S = 10 * 365 * 24 * 3600
# The caller's environment in a `new` request: far beyond any real login (a few KiB; module
# systems such as Lmod reach tens of KiB), well within what execve accepts.
MAX_ENV_VARIABLES = 1000
MAX_ENV_BYTES = 256 * 1024  # counted as execve does: NAME=VALUE plus a NUL, in UTF-8
MAX_UMASK = 0o777


def parse_request(line: bytes) -> Request:
    """Parse one request line (with or without its newline) or raise ProtocolError."""
    if len(line) > MAX_LINE_BYTES + 1:
        raise ProtocolError(f"request longer than {MAX_LINE_BYTES} bytes")
    message = _decode_json(line)
    if not isinstance(message, dict):
        raise ProtocolError(f"request must be a JSON object, not {_json_type(message)}")
    op = message.get("op")
    if op == "new":
        return _parse_new(message)
    if op == "list":
        return ListRequest()
    if op == "status":
        return StatusRequest()
    if op == "kill":
        return KillRequest(session_id=_required(message, "session_id", str))
    if op == "attach":
        return AttachRequest(session_id=_optional(message, "session_id", str))
    if op is None:
        raise ProtocolError('request has no "op" field')
    raise ProtocolError(f"unknown op {op!r} (expected new, list, kill, status or attach)")


def _decode_json(line: bytes) -> Any:
    """json.loads, with every way it can fail on hostile input turned into a ProtocolError."""
    try:
        return json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"request is not valid JSON: {error}") from None
    except RecursionError:  # `[[[[...` nested deeper than the interpreter's recursion limit
        raise ProtocolError("request is nested too deeply") from None
    except ValueError:  # an integer of more digits than int() will convert (sys.int_info)
        raise ProtocolError("request has a number too long to convert") from None


def _parse_new(message: dict[str, Any]) -> NewRequest:
    command = _optional(message, "command", list)
    if command is not None:
        command = _parse_command(command)
    env = _optional(message, "env", dict)
    width = _optional_int(message, "width", 1, MAX_DIMENSION)
    height = _optional_int(message, "height", 1, MAX_DIMENSION)
    colors = _optional_int(message, "colors", 0, MAX_COLORS)
    bind_ip = _optional(message, "bind_ip", str)
    port = _optional(message, "port", str)
    verbose = _optional(message, "verbose", bool)
    network_timeout = _optional_int(message, "network_timeout", 1, MAX_TIMEOUT_S)
    signal_timeout = _optional_int(message, "signal_timeout", 1, MAX_TIMEOUT_S)
    caller_env = _optional(message, "caller_env", dict)
    umask = _optional_int(message, "umask", 0, MAX_UMASK)
    protocol = _optional(message, "protocol", str)
    if protocol is not None and protocol not in PROTOCOLS:
        raise ProtocolError(f'"protocol" must be one of {", ".join(PROTOCOLS)}, not {protocol!r}')
    if bind_ip is not None:
        _check_ip(bind_ip)
    return NewRequest(
        command=command,
        env=_parse_env(env) if env is not None else {},
        width=width if width is not None else DEFAULT_WIDTH,
        height=height if height is not None else DEFAULT_HEIGHT,
        colors=colors,
        bind_ip=bind_ip,
        port=_parse_port(port) if port is not None else None,
        verbose=bool(verbose),
        network_timeout=network_timeout,
        signal_timeout=signal_timeout,
        caller_env=_parse_caller_env(caller_env) if caller_env is not None else None,
        umask=umask,
        protocol=protocol if protocol is not None else NATIVE_PROTOCOL,
    )


def _parse_port(text: str) -> PortRange:
    try:
        return parse_port_spec(text)
    except PortSpecError as error:
        raise ProtocolError(str(error)) from None


def _parse_caller_env(env: dict[str, Any]) -> dict[str, str]:
    parsed = _parse_env(env, "caller_env")
    check_environment_size(parsed)
    return parsed


def check_environment_size(env: Mapping[str, str]) -> None:
    """Raise ProtocolError if `env` is beyond what a `new` request may carry (the daemon
    checks this; `mosh-server new` checks it first, to say so before starting anything)."""
    if len(env) > MAX_ENV_VARIABLES:
        raise ProtocolError(
            f"the environment has {len(env)} variables; moshd accepts at most {MAX_ENV_VARIABLES}"
        )
    size = environment_bytes(env)
    if size > MAX_ENV_BYTES:
        raise ProtocolError(
            f"the environment is {size} bytes; moshd accepts at most {MAX_ENV_BYTES}"
        )


def environment_bytes(env: Mapping[str, str]) -> int:
    """What `env` takes in an execve environment block: NAME=VALUE and a NUL per variable."""
    return sum(len(os.fsencode(name)) + len(os.fsencode(value)) + 2 for name, value in env.items())


def _parse_command(command: list[Any]) -> list[str]:
    if not command:
        raise ProtocolError('"command" must not be empty (use null for the login shell)')
    for argument in command:
        if not isinstance(argument, str):
            raise ProtocolError(f'"command" must be a list of strings, found {argument!r}')
        if "\0" in argument:
            raise ProtocolError('"command" arguments must not contain NUL characters')
    return list(command)


def _parse_env(env: dict[str, Any], field_name: str = "env") -> dict[str, str]:
    for name, value in env.items():
        if not isinstance(value, str):
            raise ProtocolError(
                f'"{field_name}" values must be strings, {name!r} is {_json_type(value)}'
            )
        if not name or "=" in name or "\0" in name or "\0" in value or not _encodable(name, value):
            raise ProtocolError(f'"{field_name}" has an invalid variable name or value: {name!r}')
    return dict(env)


def _encodable(*texts: str) -> bool:
    """Whether execve could be given these: JSON may carry surrogates no byte string has."""
    try:
        for text in texts:
            os.fsencode(text)
    except UnicodeEncodeError:
        return False
    return True


def _check_ip(text: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ProtocolError(f'"bind_ip" is not an IP address: {text!r}') from None


def _required(message: dict[str, Any], name: str, kind: type) -> Any:
    value = message.get(name)
    if value is None:
        raise ProtocolError(f'request has no "{name}" field')
    return _checked(name, value, kind)


def _optional(message: dict[str, Any], name: str, kind: type) -> Any:
    value = message.get(name)
    return None if value is None else _checked(name, value, kind)


def _optional_int(message: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value: int | None = _optional(message, name, int)
    if value is not None and not low <= value <= high:
        raise ProtocolError(f'"{name}" must be between {low} and {high}, not {value}')
    return value


def _checked(name: str, value: Any, kind: type) -> Any:
    # bool is an int subclass in Python; JSON true is not a width.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(
            f'"{name}" must be {_KIND_NAMES.get(kind, kind.__name__)}, not {_json_type(value)}'
        )
    return value


_KIND_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    list: "a list",
    dict: "an object",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"

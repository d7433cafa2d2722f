"""The synchronous control client: one request, one reply, for the short-lived `mosh-server`.

It imports no trio or structlog, so that `mosh-server new` starts fast
(tests/unit/test_startup_imports.py keeps it so).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moshd.control.errors import DaemonUnreachable, ProtocolError
from moshd.control.framing import MAX_REPLY_BYTES, LineFramer
from moshd.control.messages import Request, encode_line, request_to_json


def request(
    path: Path | str, message: Mapping[str, Any] | Request, timeout: float = 5.0
) -> dict[str, Any]:
    """Send one request and return the daemon's reply (which may be `{"ok": false, ...}`).

    The reply is checked only for its boolean "ok"; the caller knows which reply type its
    request gets. Raises DaemonUnreachable when there is no daemon to ask or it does not answer
    in time.
    """
    if not isinstance(message, Mapping):
        message = request_to_json(message)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        _connect(sock, Path(path))
        try:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                # A daemon that refuses us answers and hangs up without reading the request,
                # so our send may fail although its reply is already waiting to be read.
                sock.sendall(encode_line(message))
            line = _read_reply_line(sock)
        except TimeoutError:
            raise DaemonUnreachable(f"moshd did not answer within {timeout:g} s") from None
        except OSError as error:
            raise DaemonUnreachable(f"lost the connection to moshd: {error.strerror}") from None
    return _parse_reply(line)


def _connect(sock: socket.socket, path: Path) -> None:
    try:
        sock.connect(os.fspath(path))
    except FileNotFoundError:
        raise DaemonUnreachable(f"moshd is not running (no control socket at {path})") from None
    except ConnectionRefusedError:
        raise DaemonUnreachable(
            f"moshd is not running ({path} refuses connections: a stale socket)"
        ) from None
    except PermissionError:
        raise DaemonUnreachable(f"not allowed to connect to {path}") from None
    except TimeoutError:
        raise DaemonUnreachable(f"timed out connecting to {path}") from None
    except OSError as error:
        raise DaemonUnreachable(f"cannot connect to {path}: {error.strerror}") from None


def _read_reply_line(sock: socket.socket) -> bytes:
    framer = LineFramer(MAX_REPLY_BYTES, "reply")
    while (line := framer.next_line()) is None:
        chunk = sock.recv(65536)
        if not chunk:
            raise DaemonUnreachable("moshd closed the connection without answering")
        framer.feed(chunk)
    return line


def _parse_reply(line: bytes) -> dict[str, Any]:
    try:
        reply = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"moshd sent a reply that is not JSON: {error}") from None
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        raise ProtocolError('moshd sent a reply without a boolean "ok" field')
    return reply

"""moshd.control.client: the synchronous client against fake daemons."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from moshd.control import client, paths
from moshd.control.errors import (
    DaemonUnreachable,
    ProtocolError,
)
from moshd.control.messages import (
    Request,
    StatusRequest,
)

# --------------------------------------------------------------------------------------------
# The synchronous client against fake daemons


def test_client_without_daemon(socket_path: Path) -> None:
    with pytest.raises(DaemonUnreachable, match=r"not running \(no control socket"):
        client.request(socket_path, {"op": "status"})


def test_client_with_stale_socket(socket_path: Path) -> None:
    paths.ensure_private_directory(socket_path.parent)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(socket_path))
    with pytest.raises(DaemonUnreachable, match="stale socket"):
        client.request(socket_path, {"op": "status"})


def test_client_times_out_on_a_silent_daemon(socket_path: Path) -> None:
    paths.ensure_private_directory(socket_path.parent)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.bind(str(socket_path))
        silent.listen()  # never accepts: connect succeeds through the backlog, no answer comes
        with pytest.raises(DaemonUnreachable, match=r"did not answer within 0\.2 s"):
            client.request(socket_path, StatusRequest(), timeout=0.2)


async def ask(path: Path, message: Mapping[str, Any] | Request) -> dict[str, Any]:
    return await trio.to_thread.run_sync(lambda: client.request(path, message))


@pytest.mark.trio
async def test_client_reports_a_daemon_that_hangs_up(socket_path: Path) -> None:
    paths.ensure_private_directory(socket_path.parent)
    listener = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await listener.bind(str(socket_path))
    listener.listen()

    async def hang_up_on_first_caller() -> None:
        connection, _ = await listener.accept()
        await connection.recv(1000)  # read the request, so that closing sends EOF, not RST
        connection.close()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hang_up_on_first_caller)
        with pytest.raises(DaemonUnreachable, match="closed the connection without answering"):
            await ask(socket_path, {"op": "list"})
    listener.close()


@pytest.mark.trio
async def test_client_rejects_a_reply_that_is_not_json(socket_path: Path) -> None:
    paths.ensure_private_directory(socket_path.parent)
    listener = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await listener.bind(str(socket_path))
    listener.listen()

    async def answer_garbage() -> None:
        connection, _ = await listener.accept()
        await connection.send(b"hello\n")
        connection.close()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer_garbage)
        with pytest.raises(ProtocolError, match="not JSON"):
            await ask(socket_path, {"op": "list"})
    listener.close()

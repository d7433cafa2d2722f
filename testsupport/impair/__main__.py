"""Run the impairment proxy as a separate process, steered over a Unix control socket.

    python -m testsupport.impair --listen 127.0.0.1:0 --server 127.0.0.1:PORT \\
        --delay-up 0.125 --delay-down 0.125 --loss-up 0.29 --control /tmp/x/control.sock

Prints ``LISTENING 127.0.0.1:NNNNN`` once the proxy and the control socket are both
ready, then serves JSON-line commands on the control socket (one answer line each):

    {"cmd": "set", "direction": "up"|"down"|"both", "loss": 0.3, "delay": 0.1, ...}
    {"cmd": "blackout", "on": true}
    {"cmd": "new_source_port"}
    {"cmd": "new_source_address", "address": "127.0.0.2"}
    {"cmd": "stats"}
    {"cmd": "get"}
    {"cmd": "quit"}

Exits cleanly on SIGTERM/SIGINT, and by itself when its parent process goes away, so
an aborted test run never leaves a proxy behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import trio

from testsupport.impair.proxy import (
    IMPAIRMENT_FIELDS,
    Impairment,
    ImpairmentProxy,
    format_hostport,
    open_proxy,
    parse_hostport,
)

_MAX_LINE = 64 * 1024
_PARENT_POLL = 0.2  # seconds between checks that our parent is still alive
_NUMERIC_FIELDS = tuple(name for name in IMPAIRMENT_FIELDS if name != "blackout")


def loopback_hostport(text: str) -> tuple[str, int]:
    try:
        return parse_hostport(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m testsupport.impair",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--listen",
        type=loopback_hostport,
        default=("127.0.0.1", 0),
        help="loopback HOST:PORT to listen on for the client (default "
        "127.0.0.1:0, an ephemeral port)",
    )
    parser.add_argument(
        "--server", type=loopback_hostport, required=True, help="loopback HOST:PORT of the server"
    )
    parser.add_argument(
        "--control", type=Path, required=True, help="path of the Unix control socket to create"
    )
    parser.add_argument("--seed", default=None, help="seed for reproducible randomness")
    parser.add_argument(
        "--retire-after",
        type=float,
        default=1.0,
        help="seconds an abandoned upstream socket keeps receiving",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="exit when this process stops being our parent (default: "
        "whatever the parent is at start-up)",
    )
    parser.add_argument(
        "--max-lifetime",
        type=float,
        default=None,
        help="exit after this many seconds no matter what",
    )
    for name in _NUMERIC_FIELDS:
        kind: Callable[[str], Any] = int if name == "queue_bytes" else float
        flag = name.replace("_", "-")
        parser.add_argument(f"--{flag}", type=kind, default=None, help="both directions")
        parser.add_argument(f"--{flag}-up", type=kind, default=None)
        parser.add_argument(f"--{flag}-down", type=kind, default=None)
    return parser


def impairments_from_args(args: argparse.Namespace) -> tuple[Impairment, Impairment]:
    """Per-direction flags override the both-directions flag."""
    up, down = Impairment(), Impairment()
    for name in _NUMERIC_FIELDS:
        both = getattr(args, name)
        for imp, suffix in ((up, "up"), (down, "down")):
            value = getattr(args, f"{name}_{suffix}")
            value = both if value is None else value
            if value is not None:
                setattr(imp, name, value)
    return up, down


# ---------------------------------------------------------------------------
# Control protocol
# ---------------------------------------------------------------------------


class Quit(Exception):
    """Raised by the "quit" command after its answer has been sent."""


async def execute(proxy: ImpairmentProxy, request: dict[str, Any]) -> dict[str, Any]:
    """Run one control command; errors are reported to the caller, never fatal."""
    request = dict(request)
    command = request.pop("cmd", None)
    if command == "set":
        direction = request.pop("direction", "both")
        proxy.set(direction, **request)
        return settings(proxy)
    if command == "get":
        return settings(proxy)
    if command == "blackout":
        proxy.blackout(request.get("on", True))  # validated: must be a JSON boolean
        return settings(proxy)
    if command == "new_source_port":
        return {"source": list(await proxy.new_source_port())}
    if command == "new_source_address":
        return {"source": list(await proxy.new_source_address(str(request["address"])))}
    if command == "stats":
        return {
            "stats": proxy.stats.as_dict(),
            "client": list(proxy.client_address) if proxy.client_address else None,
            "source": list(proxy.source_address),
        }
    if command == "quit":
        raise Quit
    raise ValueError(f"unknown command {command!r}")


def settings(proxy: ImpairmentProxy) -> dict[str, Any]:
    return {"up": proxy.up.as_dict(), "down": proxy.down.as_dict()}


async def answer(proxy: ImpairmentProxy, line: bytes) -> dict[str, Any]:
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("a command is a JSON object")
        return {"ok": True, **await execute(proxy, request)}
    except Quit:
        raise
    except Exception as exc:  # any bad command: tell the client, keep serving
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


async def serve_connection(
    proxy: ImpairmentProxy, stream: trio.SocketStream, quit_scope: trio.CancelScope
) -> None:
    buffer = b""
    async with stream:
        while True:
            chunk = await stream.receive_some(_MAX_LINE)
            if not chunk:
                return
            buffer += chunk
            if len(buffer) > _MAX_LINE and b"\n" not in buffer:
                return  # not a line-oriented client; drop it
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if not line.strip():
                    continue
                try:
                    reply = await answer(proxy, line)
                except Quit:
                    await stream.send_all(b'{"ok": true}\n')
                    quit_scope.cancel()
                    return
                await stream.send_all(json.dumps(reply).encode() + b"\n")


async def open_control_listener(path: Path) -> trio.SocketListener:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a stale socket from a killed run
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(str(path))
    os.chmod(path, 0o600)
    sock.listen(8)
    return trio.SocketListener(sock)


# ---------------------------------------------------------------------------
# Process lifecycle
# ---------------------------------------------------------------------------


async def watch_parent(parent: int, scope: trio.CancelScope) -> None:
    """Orphaned (parent died, we got re-parented): shut down instead of lingering."""
    while os.getppid() == parent:
        await trio.sleep(_PARENT_POLL)
    scope.cancel()


async def watch_signals(scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            scope.cancel()
            return


async def run(args: argparse.Namespace, parent: int) -> None:
    up, down = impairments_from_args(args)
    control_path: Path = args.control
    with trio.CancelScope() as scope:
        if args.max_lifetime is not None:
            scope.deadline = trio.current_time() + args.max_lifetime
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_signals, scope)
            nursery.start_soon(watch_parent, parent, scope)
            async with open_proxy(
                args.server,
                listen=args.listen,
                seed=args.seed,
                up=up,
                down=down,
                retire_after=args.retire_after,
            ) as proxy:
                listener = await open_control_listener(control_path)
                try:
                    async with listener:
                        handler = _connection_handler(proxy, scope)
                        nursery.start_soon(trio.serve_listeners, handler, [listener])
                        print(f"LISTENING {format_hostport(proxy.address)}", flush=True)
                        await trio.sleep_forever()
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        control_path.unlink()


def _connection_handler(
    proxy: ImpairmentProxy, scope: trio.CancelScope
) -> Callable[[trio.SocketStream], Any]:
    async def handle(stream: trio.SocketStream) -> None:
        await serve_connection(proxy, stream, scope)

    return handle


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # An explicit --parent-pid also catches a parent that died while we were starting.
    parent = os.getppid() if args.parent_pid is None else args.parent_pid
    try:
        impairments_from_args(args)
    except (TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    trio.run(run, args, parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())

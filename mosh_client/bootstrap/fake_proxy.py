"""`mosh --fake-proxy -- HOST PORT`, ssh's ProxyCommand: connect to the host as ssh would,
say `MOSH IP <address>` on stderr, then relay bytes between ssh and the connection."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from contextlib import suppress

from mosh_client.bootstrap.addresses import resolve
from mosh_client.bootstrap.errors import EXIT_FAILURE, BootstrapError
from mosh_client.mosh_args import FakeProxyRequest, Family

# Starts the proxy's error line, so that the wrapper tells it from ssh's own complaints.
FAKE_PROXY_PREFIX = "mosh --fake-proxy: "
_RELAY_CHUNK = 65536


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

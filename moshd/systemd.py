"""Talking to systemd: readiness notification (sd_notify) and socket activation (LISTEN_FDS).

Both protocols are a few lines over plain sockets, so they are written out here instead of
pulling in a library: `sdnotify` has been unmaintained since 2017, `systemd-watchdog` leaves
abstract socket names untested and does no socket activation, and `systemd-python` /
`cysystemd` are C extensions (no wheels, or wheels only for recent glibc) for what is one
`sendto()` and an environment parse. Everything degrades to a no-op without systemd.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

import structlog
import trio

SD_LISTEN_FDS_START = 3  # sd_listen_fds(3): passed descriptors start right after stdio
_log = structlog.get_logger("moshd.systemd")


# ---------------------------------------------------------------------------------------------
# sd_notify


def notify_address(value: str | None) -> str | bytes | None:
    """The socket address in `$NOTIFY_SOCKET`: a path, or `@name` for an abstract socket
    (returned as bytes with the leading NUL). None when unset or of a kind we do not speak."""
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + os.fsencode(value[1:])
    if value.startswith("/"):
        return value
    return None  # e.g. "vsock:..." (systemd >= 254, for VMs): not something a user daemon gets


def format_notify(fields: Mapping[str, str | int]) -> bytes:
    """`KEY=VALUE` lines. A newline inside a value would start a bogus assignment, so it
    becomes a space (STATUS= is a one-line summary anyway)."""
    lines = []
    for key, value in fields.items():
        if not key or "=" in key or "\n" in key:
            raise ValueError(f"bad sd_notify field name {key!r}")
        lines.append(f"{key}={str(value).replace(chr(10), ' ')}")
    return ("\n".join(lines) + "\n").encode()


def watchdog_interval(env: Mapping[str, str], pid: int | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of `$WATCHDOG_USEC`, as sd_watchdog_enabled(3)
    advises; None when no watchdog is set for this process (`$WATCHDOG_PID` names another)."""
    usec = env.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    watchdog_pid = env.get("WATCHDOG_PID")
    if watchdog_pid and watchdog_pid != str(os.getpid() if pid is None else pid):
        return None
    return int(usec) / 1e6 / 2


@dataclass
class Notifier:
    """Sends state changes to the service manager; silently nothing when there is none."""

    address: str | bytes | None = None
    watchdog_interval: float | None = None
    # The manager's socket holds only a few unread datagrams (net.unix.max_dgram_qlen), and
    # a plain sendto() then blocks, and with it every session: a state change waits at most
    # this long, a watchdog ping not at all (a lost ping is only a missed heartbeat).
    send_timeout: float = 1.0

    @classmethod
    def from_environ(cls, env: Mapping[str, str] = os.environ) -> Notifier:
        address = notify_address(env.get("NOTIFY_SOCKET"))
        return cls(address, watchdog_interval(env) if address is not None else None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str | int) -> bool:
        """One notification datagram; False if it could not be delivered (never raises:
        a manager that went away must not take the daemon down with it)."""
        return self._send(format_notify(fields), self.send_timeout)

    def _send(self, message: bytes, timeout: float) -> bool:
        if self.address is None:
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(timeout)  # 0: non-blocking
            try:
                sock.sendto(message, self.address)
            except OSError as exc:
                what = message.split(b"=", 1)[0].decode(errors="replace")
                _log.warning("systemd.notify_failed", errno=exc.errno, first_field=what)
                return False
        return True

    def ready(self, status: str) -> bool:
        return self.send(READY=1, STATUS=status)

    def status(self, status: str) -> bool:
        return self.send(STATUS=status)

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets a Type=notify-reload manager (systemd >= 253) match the reload
        # to this message; older managers ignore the extra field.
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send(RELOADING=1, MONOTONIC_USEC=now_usec)

    def stopping(self, status: str = "stopping: hanging up sessions") -> bool:
        return self.send(STOPPING=1, STATUS=status)

    async def watchdog_loop(self) -> None:
        """WATCHDOG=1 every half period, from the event loop itself: a loop stuck in a busy
        session stops the pings, and systemd restarts the daemon."""
        if self.watchdog_interval is None:
            return
        while True:
            self._send(b"WATCHDOG=1\n", 0)
            await trio.sleep(self.watchdog_interval)


# ---------------------------------------------------------------------------------------------
# Socket activation


@dataclass(frozen=True)
class ListenFd:
    fd: int
    name: str  # FileDescriptorName= of the socket unit ("unknown" if unnamed, as systemd does)


_LISTEN_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def listen_fds(
    env: MutableMapping[str, str] | None = None, pid: int | None = None
) -> list[ListenFd]:
    """The descriptors systemd passed us (sd_listen_fds_with_names(3)), fd 3 onwards.

    Only if `$LISTEN_PID` is this process: the variables may have been inherited from a
    parent they were meant for. The variables are removed either way, so that nothing we
    start later mistakes them for its own; the descriptors are marked close-on-exec so that
    the users' shells do not inherit our listening sockets.
    """
    environ: MutableMapping[str, str] = os.environ if env is None else env
    values = {name: environ.pop(name, None) for name in _LISTEN_VARIABLES}
    listen_pid, count = values["LISTEN_PID"], values["LISTEN_FDS"]
    if listen_pid is None or count is None:
        return []
    if not listen_pid.isdigit() or int(listen_pid) != (os.getpid() if pid is None else pid):
        return []
    if not count.isdigit() or int(count) == 0:
        return []
    n = int(count)
    names = (values["LISTEN_FDNAMES"] or "").split(":") if values["LISTEN_FDNAMES"] else []
    if len(names) != n:
        names = ["unknown"] * n  # systemd's own fallback when the names do not add up
    fds = []
    for index in range(n):
        fd = SD_LISTEN_FDS_START + index
        with contextlib.suppress(OSError):
            os.set_inheritable(fd, False)
        fds.append(ListenFd(fd, names[index]))
    return fds


def is_listening_unix_stream(fd: int) -> bool:
    """Whether `fd` is a listening AF_UNIX stream socket (what moshd.socket passes)."""
    try:
        if not stat.S_ISSOCK(os.fstat(fd).st_mode):
            return False
        probe = socket.socket(fileno=os.dup(fd))
    except OSError:
        return False
    with probe:
        try:
            accepting = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError as exc:
            if exc.errno != errno.ENOPROTOOPT:
                raise
            return False
        return (
            probe.family == socket.AF_UNIX and probe.type == socket.SOCK_STREAM and accepting == 1
        )


def activated_control_socket(fds: list[ListenFd]) -> socket.socket | None:
    """The passed control socket: the one named "control", else the only Unix stream
    listener. None when there is none (moshd then binds its own). Any other descriptor is
    closed: the daemon has no use for it, and holding it would keep its port busy."""
    candidates = [entry for entry in fds if is_listening_unix_stream(entry.fd)]
    chosen = next((entry for entry in candidates if entry.name == "control"), None)
    if chosen is None and len(candidates) == 1:
        chosen = candidates[0]
    for entry in fds:
        if entry is not chosen:
            _log.warning("systemd.unused_fd", fd=entry.fd, name=entry.name)
            with contextlib.suppress(OSError):
                os.close(entry.fd)
    if chosen is None:
        return None
    return socket.socket(fileno=chosen.fd)

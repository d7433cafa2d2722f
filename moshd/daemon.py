"""The supervisor: control socket, UDP sockets, the session registry, signals, shutdown.

Each session runs in the daemon's session nursery behind an error boundary: whatever goes
wrong inside a session is logged and ends that session, never the daemon or its neighbours.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog
import trio

from moshd import __version__
from moshd.attachment import Protocol
from moshd.control.binding import bind_control_socket, close_control_socket
from moshd.control.codes import ErrorCode
from moshd.control.errors import ControlError
from moshd.control.fd_exhaustion import out_of_fds
from moshd.control.messages import (
    AttachReply,
    AttachRequest,
    KillRequest,
    ListRequest,
    NewReply,
    NewRequest,
    OkReply,
    Request,
    SessionInfo,
    StatusRequest,
)
from moshd.control.paths import PeerCreds
from moshd.control.server import serve_control
from moshd.endings import CloseReason, SessionTimeouts
from moshd.logging import reopen_logs
from moshd.ports import PortRange
from moshd.pty import (
    ChildReaper,
    build_child_environment,
    login_shell_command,
    spawn,
    term_for_colors,
)
from moshd.session import Session, SessionEnded
from moshd.systemd import Notifier
from moshd.udp import DEFAULT_PORTS, NoFreePort, UdpPorts, default_bind_ip
from ssp.history import DEFAULT_BUDGET_BYTES, DEFAULT_LIMIT, History, HistoryBudget
from ssp.timing import UPSTREAM_TIMERS, Timers

STOP_GRACE = 3.0  # on SIGTERM, how long sessions get to tell their clients goodbye
_log = structlog.get_logger("moshd.daemon")


@dataclass
class DaemonConfig:
    control_path: Path
    bind_ip: str | None = None  # None: dual-stack "::" where IPv6 works, else 0.0.0.0
    ports: PortRange = DEFAULT_PORTS
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    stop_grace: float = STOP_GRACE
    # a listening socket systemd passed us (moshd.socket); its path belongs to systemd
    control_socket: socket.socket | None = None
    notifier: Notifier = field(default_factory=Notifier)  # default: no service manager
    timers: Timers = UPSTREAM_TIMERS  # every session's protocol timers; tests shorten them
    child_fd_soft_limit: int | None = None  # the programs' open-files limit (None: ours)
    # Scrollback (ssp.history): lines kept per session, and bytes for all sessions together.
    scrollback_lines: int = DEFAULT_LIMIT
    scrollback_bytes: int = DEFAULT_BUDGET_BYTES


class Daemon:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.sessions: dict[str, Session] = {}
        self.history_budget = HistoryBudget(config.scrollback_bytes)  # every session's scrollback
        self._no_sessions = trio.Event()  # set while no session is left, for a clean stop
        self._no_sessions.set()
        self._udp: UdpPorts | None = None
        self._session_nursery: trio.Nursery | None = None
        self._stopping = False
        self._port: int | None = None
        self._reaper = ChildReaper()  # closed sessions' children, until they exit
        self.stopped = trio.Event()

    # --- lifecycle ---------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until `stop()` (or SIGTERM/SIGINT when `handle_signals` runs alongside)."""
        activated = self.config.control_socket
        if activated is not None:
            control = trio.socket.from_stdlib_socket(activated)
        else:
            control = bind_control_socket(self.config.control_path)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(self._reaper.run)
                self._udp = UdpPorts(
                    nursery, self.config.bind_ip or default_bind_ip(), self.config.ports
                )
                shared = await self._udp.open_shared()
                self._port = shared.port
                async with trio.open_nursery() as sessions:
                    self._session_nursery = sessions
                    await nursery.start(serve_control, control, self.handle_request, os.getuid())
                    _log.info(
                        "daemon.ready",
                        pid=os.getpid(),
                        control=str(self.config.control_path),
                        port=shared.port,
                        bind_ip=shared.bind_ip,
                        version=__version__,
                        socket_activated=activated is not None,
                    )
                    self.config.notifier.ready(self._status_text())
                    nursery.start_soon(self.config.notifier.watchdog_loop)
                    task_status.started()
                    await self.stopped.wait()
                    await self._close_all_sessions()
                nursery.cancel_scope.cancel()
        finally:
            if activated is not None:
                control.close()  # systemd keeps listening on the path: no unlink, no lock
            else:
                close_control_socket(control, self.config.control_path)
            self.config.notifier.status("stopped")
            _log.info("daemon.stopped")

    def stop(self) -> None:
        if not self._stopping:
            self.config.notifier.stopping(self._status_text(stopping=True))
        self._stopping = True
        self.stopped.set()

    async def handle_signals(self) -> None:
        signums = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP)
        with trio.open_signal_receiver(*signums) as signals:
            async for signum in signals:
                if signum == signal.SIGUSR1:
                    self._on_sigusr1()
                elif signum == signal.SIGHUP:
                    self.reload()
                else:
                    _log.info("daemon.stopping", signal=signal.Signals(signum).name)
                    self.stop()
                    return

    def reload(self) -> None:
        """`systemctl reload` (SIGHUP): reopen the log connection. Sessions are untouched;
        there is no configuration file, and the ports and bind address stay as they are."""
        notifier = self.config.notifier
        notifier.reloading()
        reopen_logs()
        _log.info("daemon.reloaded", sessions=len(self.sessions))
        notifier.ready(self._status_text())

    def _status_text(self, stopping: bool | None = None) -> str:
        """The one-line STATUS= that `systemctl status moshd` shows."""
        count = len(self.sessions)
        sessions = f"{count} session{'' if count == 1 else 's'}"
        if self._stopping if stopping is None else stopping:
            return f"stopping: hanging up {sessions}"
        return f"{sessions} on UDP port {self._port}"

    def _on_sigusr1(self) -> None:
        for session in list(self.sessions.values()):
            if session.signal_timeout_expired():
                session.request_close(CloseReason.SIGNAL_TIMEOUT)

    async def _close_all_sessions(self) -> None:
        for session in list(self.sessions.values()):
            session.child.hangup()
            session.request_close(CloseReason.DAEMON_STOPPING)
        with trio.move_on_after(self.config.stop_grace):
            await self._no_sessions.wait()
        if self._session_nursery is not None:
            self._session_nursery.cancel_scope.cancel()

    # --- the control protocol ----------------------------------------------------------------
    async def handle_request(self, request: Request, peer: PeerCreds) -> OkReply:
        if isinstance(request, NewRequest):
            return await self.create_session(request)
        if isinstance(request, ListRequest):
            return {"ok": True, "sessions": [self._info(s) for s in self.sessions.values()]}
        if isinstance(request, AttachRequest):
            return self.attach_session(request.session_id)
        if isinstance(request, KillRequest):
            session = self.sessions.get(request.session_id)
            if session is None:
                raise ControlError(ErrorCode.NO_SUCH_SESSION, f"no session {request.session_id!r}")
            session.request_close(CloseReason.KILLED)
            return {"ok": True}
        if isinstance(request, StatusRequest):
            assert self._udp is not None
            return {
                "ok": True,
                "pid": os.getpid(),
                "sessions": len(self.sessions),
                "ports": sorted({udp.port for udp in self._udp.all}),
                "version": __version__,
            }
        raise ControlError(ErrorCode.BAD_REQUEST, "unknown request")  # pragma: no cover

    async def create_session(self, request: NewRequest) -> NewReply:
        if self._stopping or self._udp is None or self._session_nursery is None:
            raise ControlError(ErrorCode.STOPPING, "moshd is shutting down")
        try:
            udp = await self._udp.acquire(request.bind_ip, request.port)
        except NoFreePort as exc:
            raise ControlError(ErrorCode.NO_FREE_PORT, str(exc)) from exc

        argv0: str | None = None
        if request.command is None:
            shell_argv, program = login_shell_command()
            argv, argv0 = [program], shell_argv[0]
        else:
            argv = list(request.command)
        # Each session gets its own caller's environment and umask, as upstream's mosh-server
        # (one process per login) does; the daemon's own only for an older mosh-server.
        from_caller = request.caller_env is not None
        env = build_child_environment(
            request.caller_env if request.caller_env is not None else self.config.base_env,
            request.env,
            term=term_for_colors(request.colors),
            from_caller=from_caller,
        )
        try:
            child = spawn(
                argv,
                env,
                request.width,
                request.height,
                cwd=env.get("HOME"),
                argv0=argv0,
                umask=request.umask,
                fd_soft_limit=self.config.child_fd_soft_limit,
            )
        except OSError as exc:
            self._udp.release(udp)
            raise out_of_fds(exc) or ControlError(
                ErrorCode.SPAWN_FAILED, f"cannot run {argv[0]!r}: {exc.strerror or exc}"
            ) from exc

        session = Session(
            self._new_session_id(),
            [argv0] if argv0 is not None else argv,
            child,
            udp,
            request.width,
            request.height,
            SessionTimeouts(request.network_timeout, request.signal_timeout),
            timers=self.config.timers,
            protocol=Protocol(request.protocol),
            scrollback=History(self.config.scrollback_lines, self.history_budget),
        )
        self.sessions[session.session_id] = session
        if self._no_sessions.is_set():
            self._no_sessions = trio.Event()
        self._session_nursery.start_soon(self._supervise, session)
        self.config.notifier.status(self._status_text())
        session.log.info(
            "session.created",
            command=session.command,
            pid=child.pid,
            port=udp.port,
            width=request.width,
            height=request.height,
            protocol=str(session.protocol),
        )
        return {
            "ok": True,
            "session_id": session.session_id,
            "port": udp.port,
            "key": session.key.text,
        }

    def attach_session(self, session_id: str | None) -> AttachReply:
        """A fresh key for a live session (`mosh-server attach`): the named one, or with no
        name the only detached one. Whoever held the old key is let go."""
        session = self._session_to_attach(session_id)
        try:
            key = session.attach()
        except SessionEnded:
            raise ControlError(
                ErrorCode.SESSION_ENDED, f"session {session.session_id} has ended"
            ) from None
        return {
            "ok": True,
            "session_id": session.session_id,
            "port": session.udp.port,
            "key": key.text,
        }

    def _session_to_attach(self, session_id: str | None) -> Session:
        if session_id is not None:
            session = self.sessions.get(session_id)
            if session is None:
                raise ControlError(
                    ErrorCode.NO_SUCH_SESSION,
                    f"no session {session_id!r} (it has ended, or never existed)",
                )
            return session
        detached = [
            s
            for s in self.sessions.values()
            if s.close_reason is None and s.detached_since() is not None
        ]
        if not detached:
            raise ControlError(ErrorCode.NO_DETACHED_SESSION, "no detached session to attach")
        if len(detached) > 1:
            raise ControlError(
                ErrorCode.SEVERAL_DETACHED,
                f"{len(detached)} detached sessions: say which one to attach",
            )
        return detached[0]

    def _new_session_id(self) -> str:
        while True:
            candidate = secrets.token_hex(4)
            if candidate not in self.sessions:
                return candidate

    def _info(self, session: Session) -> SessionInfo:
        detached_since = session.detached_since()
        return {
            "session_id": session.session_id,
            "command": session.command,
            "created_at": session.created_at,
            "age_s": round(session.age, 1),
            "peer": session.peer,
            "port": session.udp.port,
            "pid": session.child.pid,
            "state": (
                "ending"
                if session.close_reason is not None
                else "attached"
                if detached_since is None
                else "detached"
            ),
            "state_since": (
                detached_since if detached_since is not None else session.attached_since()
            ),
            "last_heard": session.last_heard_wall(),
            "protocol": str(session.protocol),
        }

    # --- the error boundary ------------------------------------------------------------------
    async def _supervise(self, session: Session) -> None:
        reason: str = "failed"
        try:
            reason = await session.run()
        except Exception:
            session.log.exception("session.failed")
        except BaseException:
            # Cancelled: the daemon is stopping and the goodbye took longer than its grace.
            reason = session.close_reason or CloseReason.DAEMON_STOPPING
            raise
        finally:
            session.remove_routes()
            self.sessions.pop(session.session_id, None)
            if not self.sessions:
                self._no_sessions.set()
            if self._udp is not None:
                self._udp.release(session.udp)
            session.child.hangup()
            session.child.close(self._reaper)
            self.config.notifier.status(self._status_text())
            session.log.info(
                "session.closed",
                reason=str(reason),
                goodbye=str(session.goodbye) if session.goodbye else None,
                duration_s=round(session.age, 1),
                exit_status=session.exit_status,
                peer=session.peer,
            )

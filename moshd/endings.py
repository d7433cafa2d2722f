"""Why a session ends, and what its client is told (the farewell its last screen carries)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class CloseReason(enum.StrEnum):
    CHILD_EXITED = "child_exited"
    CLIENT_QUIT = "client_quit"
    KILLED = "killed"
    NO_CLIENT = "no_client"
    NETWORK_TIMEOUT = "network_timeout"
    SIGNAL_TIMEOUT = "signal_timeout"
    DAEMON_STOPPING = "daemon_stopping"
    TAKEN_OVER = "taken_over"  # not a session end: an attachment's, when another client attached

    @property
    def farewell(self) -> str:
        """What the client is told when the server ends the session ("" when it was the
        client that quit, or when there is no client to tell)."""
        return _FAREWELLS.get(self, "")


_FAREWELLS = {
    CloseReason.CHILD_EXITED: "the session's program ended",
    CloseReason.KILLED: "the session was ended by mosh-server kill",
    CloseReason.NETWORK_TIMEOUT: "no contact for MOSH_SERVER_NETWORK_TMOUT seconds",
    CloseReason.SIGNAL_TIMEOUT: "moshd got SIGUSR1 after MOSH_SERVER_SIGNAL_TMOUT seconds",
    CloseReason.DAEMON_STOPPING: "moshd is stopping",
    CloseReason.TAKEN_OVER: "this session was taken over by another client",
}


@dataclass(frozen=True)
class SessionTimeouts:
    network: float | None = None  # MOSH_SERVER_NETWORK_TMOUT
    signal: float | None = None  # MOSH_SERVER_SIGNAL_TMOUT


NO_TIMEOUTS = SessionTimeouts()

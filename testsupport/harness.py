"""Drive real programs as a person would: tmux panes, a real daemon, real UDP on loopback."""

from __future__ import annotations

import os
import pty
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from moshd.control import DaemonUnreachable, request

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
# A native key (43 characters) or a protocol-2 one (22): see RealDaemon.new_session.
CONNECT = re.compile(r"MOSH CONNECT (\d+) ([A-Za-z0-9+/]{43}|[A-Za-z0-9+/]{22})\s")


# What a pane prints when its program ends (see `report_exit`), for `Tmux.wait_exit`.
EXIT_LINE = re.compile(r"\[mosh exit=(\d+)\]")


def report_exit(argv: list[str]) -> str:
    """A pane command that runs `argv`, then prints its exit status and keeps the pane."""
    command = shlex.join(argv) + '; echo "[mosh exit=$?]"; sleep 60'
    return f"sh -c {shlex.quote(command)}"


def run_mosh(*args: str) -> subprocess.CompletedProcess[str]:
    """`mosh ARGS` with its output captured, for the failures that happen before the client
    starts. Its stdin is a terminal nobody types on: without one, mosh refuses first."""
    leader, follower = pty.openpty()
    try:
        return subprocess.run(
            [str(BIN / "mosh"), *args], stdin=follower, capture_output=True, text=True, timeout=30
        )
    finally:
        os.close(follower)
        os.close(leader)


class Tmux:
    """One private tmux server with one window, sized like a real terminal."""

    def __init__(self, width: int = 80, height: int = 24) -> None:
        self.socket = f"moshd-e2e-{uuid.uuid4().hex[:8]}"
        self.width, self.height = width, height

    def _tmux(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {result.stderr.strip()}")
        return result.stdout

    def start(self, command: str, env: dict[str, str] | None = None) -> None:
        env_args = [f"-e{name}={value}" for name, value in (env or {}).items()]
        self._tmux(
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            *env_args,
            command,
        )
        self._tmux("set-option", "-g", "remain-on-exit", "on")
        self._tmux("set-option", "-g", "status", "off")
        self._tmux("resize-window", "-t", "main", "-x", str(self.width), "-y", str(self.height))

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "main", "-l", text)

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "main", *keys)

    def capture(self, escapes: bool = False) -> str:
        args = ["capture-pane", "-p", "-t", "main"] + (["-e"] if escapes else [])
        return self._tmux(*args)

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.capture().splitlines()]

    def cursor(self) -> tuple[int, int]:
        out = self._tmux("display-message", "-p", "-t", "main", "#{cursor_y} #{cursor_x}")
        row, col = out.split()
        return int(row), int(col)

    def pane_pid(self) -> int:
        """The pid of the pane's program (the command given to `start`)."""
        return int(self._tmux("display-message", "-p", "-t", "main", "#{pane_pid}").strip())

    def pane_dead(self) -> bool:
        return self._tmux("display-message", "-p", "-t", "main", "#{pane_dead}").strip() == "1"

    def resize(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._tmux("resize-window", "-t", "main", "-x", str(width), "-y", str(height))

    def wait_for(
        self, predicate: Callable[[str], bool], timeout: float = 10.0, what: str = "condition"
    ) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if predicate(screen):
                return screen
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{screen}")

    def wait_for_text(self, text: str, timeout: float = 10.0) -> str:
        return self.wait_for(lambda screen: text in screen, timeout, repr(text))

    def wait_prompt(self, timeout: float = 20.0) -> str:
        """A shell's prompt (`$` or `#`) at the end of the pane."""
        return self.wait_for(lambda s: s.rstrip().endswith(("$", "#")), timeout, "a prompt")

    def run_line(self, line: str) -> None:
        """Type `line` and Enter, as a person does."""
        self.type(line)
        self.keys("Enter")

    def wait_exit(self, timeout: float = 15.0) -> int:
        """The exit status a pane started with `report_exit` printed when its program ended."""
        screen = self.wait_for(lambda s: EXIT_LINE.search(s) is not None, timeout, "the exit")
        match = EXIT_LINE.search(screen)
        assert match is not None
        return int(match.group(1))

    def kill(self) -> None:
        self._tmux("kill-server", check=False)
        # tmux leaves its socket file behind; a test run must not litter /tmp.
        socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (socket_dir / self.socket).unlink(missing_ok=True)


@dataclass
class Session:
    port: int
    key: str


class RealDaemon:
    """A `moshd` process with a private runtime directory, on loopback test ports."""

    def __init__(self, ports: str = "64000:64999", bind: str = "127.0.0.1") -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="moshd-e2e-")
        self.root = Path(self._tmp.name)
        runtime = self.root / "run"
        runtime.mkdir(mode=0o700)
        self.env = dict(os.environ)
        self.env.update(
            XDG_RUNTIME_DIR=str(runtime),
            XDG_STATE_HOME=str(self.root / "state"),
            MOSHD_PORT=ports,
            MOSHD_BIND=bind,
            PS1="$ ",
            HOME=str(self.root),
        )
        self.control = runtime / "moshd" / "control.sock"
        self.log_path = self.root / "moshd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the daemon
        self.process = subprocess.Popen(
            [str(BIN / "moshd"), "--control", str(self.control)], env=self.env, stderr=log
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                request(self.control, {"op": "status"}, timeout=1)
                return
            except DaemonUnreachable:
                time.sleep(0.05)
        raise RuntimeError("moshd did not start")

    def new_session(self, *command: str, protocol: str = "native") -> Session:
        """`mosh-server new`: a native session as our `mosh` wrapper asks for one, or with
        protocol="proto2" a stock client's, as a stock wrapper runs it (no MOSHD_PROTOCOL)."""
        argv = [str(BIN / "mosh-server"), "new"]
        if command:
            argv += ["--", *command]
        env = dict(self.env)
        if protocol == "native":
            env["MOSHD_PROTOCOL"] = "native"
        else:
            env.pop("MOSHD_PROTOCOL", None)
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=20)
        match = CONNECT.search(result.stdout)
        if result.returncode != 0 or not match:
            raise RuntimeError(f"mosh-server new failed: {result.stderr}")
        return Session(int(match.group(1)), match.group(2))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._tmp.cleanup()

    def logs(self) -> str:
        return self.log_path.read_text()


def client_command(session: Session, host: str = "127.0.0.1", *extra_env: str) -> str:
    """A shell command line that runs mosh-client with the session's key."""
    env = " ".join(shlex.quote(item) for item in (f"MOSH_KEY={session.key}", *extra_env))
    return f"env {env} {shlex.quote(str(BIN / 'mosh-client'))} {host} {session.port}"


SHELL = ("bash", "--norc", "--noprofile")

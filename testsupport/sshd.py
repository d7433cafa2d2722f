"""A throwaway OpenSSH server on loopback for the `mosh` wrapper's e2e tests, and a private
moshd that `mosh-server` on the far side of it starts.

`Sshd` runs `/usr/sbin/sshd -D -e -f CONFIG` on a free port of 127.0.0.1 and ::1 with host and
user keys made by ssh-keygen in a temporary directory: it never touches /etc/ssh, port 22 or
~/.ssh. It logs the test user (root, the only user the tests run as) in by key only.

`RemoteMoshd` is the far side's setup: the remote shell inherits sshd's environment, not the
test's, so the moshd environment travels inside `--server="env ... mosh-server"`; a wrapper
script records the arguments `mosh-server` was given, which is how a test sees the command
line the wrapper built.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from moshd.control import DaemonUnreachable, request
from testsupport.processes import alive

from .harness import BIN

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")  # sshd refuses to start without it
START_TIMEOUT = 10.0


def free_loopback_port() -> int:
    """A TCP port free on both 127.0.0.1 and ::1 (sshd listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe6:
                probe6.bind(("::1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no TCP port free on both 127.0.0.1 and ::1")


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "moshd-e2e", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )


class Sshd:
    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="moshd-sshd-")
        self.root = Path(self._tmp.name)
        self.host_key = self.root / "ssh_host_ed25519_key"
        self.user_key = self.root / "id_ed25519"
        self.log_path = self.root / "sshd.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not SSHD.exists():
            raise RuntimeError(
                f"{SSHD} is missing: apt-get install openssh-server (the README's test command)"
            )
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        _keygen(self.host_key)
        _keygen(self.user_key)
        (self.root / "authorized_keys").write_text(self.user_key.with_suffix(".pub").read_text())
        for _attempt in range(5):  # another process may take the port between probe and bind
            self.port = free_loopback_port()
            config = self._write_config()
            log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as sshd
            self.process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
            log.close()
            if self._wait_listening():
                return
            self.stop_process()
        raise RuntimeError(f"sshd did not start; its log:\n{self.log_path.read_text()}")

    def _write_config(self) -> Path:
        config = self.root / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    "ListenAddress ::1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.root / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
                    "UsePAM no",
                    "StrictModes no",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        return config

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                for host in ("127.0.0.1", "::1"):
                    socket.create_connection((host, self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def ssh_option(self, port: int | None = None) -> str:
        """`--ssh=...` for mosh: our key, no known_hosts, never a prompt."""
        return "--ssh=" + shlex.join(self.ssh_argv(port))

    def ssh_argv(self, port: int | None = None) -> list[str]:
        return [
            "ssh",
            "-p",
            str(self.port if port is None else port),
            "-i",
            str(self.user_key),
            "-F",
            "/dev/null",  # no user or system ssh_config surprises
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
        ]

    def stop_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def stop(self) -> None:
        self.stop_process()
        self._tmp.cleanup()

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


class RemoteMoshd:
    """The environment of the moshd that `mosh-server new` starts on the far side."""

    def __init__(self, bind: str = "127.0.0.1", ports: str = "63800:63899") -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="moshd-remote-")
        self.root = Path(self._tmp.name)
        self.runtime = self.root / "run"
        self.runtime.mkdir(mode=0o700)
        self.env = {
            "XDG_RUNTIME_DIR": str(self.runtime),
            "XDG_STATE_HOME": str(self.root / "state"),
            "HOME": str(self.root),
            "MOSHD_PORT": ports,
            "MOSHD_BIND": bind,
            "PS1": "$ ",
        }
        self.control = self.runtime / "moshd" / "control.sock"
        self.argv_log = self.root / "server-argv"
        self.server_script = self._write_server_script()

    def _write_server_script(self) -> Path:
        # Records its arguments, one per line and a blank line after each call.
        script = self.root / "mosh-server"
        assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in self.env.items())
        script.write_text(
            "#!/bin/sh\n"
            f"printf '%s\\n' \"$@\" '' >> {shlex.quote(str(self.argv_log))}\n"
            f'exec env {assignments} {shlex.quote(str(BIN / "mosh-server"))} "$@"\n'
        )
        script.chmod(0o755)
        return script

    def server_option(self) -> str:
        return f"--server={self.server_script}"

    def calls(self) -> list[list[str]]:
        """The argument lists mosh-server was called with, oldest first."""
        if not self.argv_log.exists():
            return []
        blocks = self.argv_log.read_text().split("\n\n")
        return [block.split("\n") for block in blocks if block]

    def ask(self, op: str) -> dict[str, Any]:
        return request(self.control, {"op": op}, timeout=5)

    def sessions(self) -> list[dict[str, Any]]:
        try:
            return list(self.ask("list")["sessions"])
        except DaemonUnreachable:
            return []

    def kill_all(self) -> None:
        """End every session (a test's leftovers) without stopping the daemon."""
        for session in self.sessions():
            with suppress(DaemonUnreachable):
                request(self.control, {"op": "kill", "session_id": session["session_id"]})

    def forget_calls(self) -> None:
        self.argv_log.unlink(missing_ok=True)

    def daemon_pid(self) -> int | None:
        try:
            return int(self.ask("status")["pid"])
        except DaemonUnreachable:
            return None

    def logs(self) -> str:
        log = self.root / "state" / "moshd" / "moshd.log"
        return log.read_text() if log.exists() else ""

    def stop(self) -> None:
        pid = self.daemon_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and alive(pid):
                time.sleep(0.05)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._tmp.cleanup()

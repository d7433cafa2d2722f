"""Start-up time, this project beside upstream mosh, in one run.

    python bench/startup.py [--repeat 5] [--warmup 1]

- `mosh --local 127.0.0.1 -- bash --norc --noprofile`, from starting the command on a fresh
  pty until the shell's `$ ` prompt is on the screen (ours: moshd already running);
- `mosh-server new -c 256 -i 127.0.0.1 -- bash --norc --noprofile` alone, until it exits
  (ours: asks the running daemon; upstream: forks a server per session);
- `mosh-client -c` (upstream's wrapper runs it first to learn the terminal's colours; ours asks
  curses in its own process);
- `mosh --help`: how long the wrapper itself takes to start and exit.

Ours runs from this checkout's virtualenv (the directory of the Python running this script)
against a private moshd on loopback; upstream is /usr/bin/mosh with --client and --server
pointing at /usr/bin, when `apt-get install mosh` has put them there. Each session is ended
afterwards (the shell exits; leftovers are killed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testsupport.harness import BIN, SHELL, RealDaemon
from testsupport.ptydriver import PtyClient
from testsupport.sides import UPSTREAM_CLIENT, UPSTREAM_SERVER, upstream_installed, wait_for_prompt

UPSTREAM_MOSH = Path("/usr/bin/mosh")
LOCALE = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "xterm-256color", "PS1": "$ "}
_SESSION = re.compile(r"session (\S+) on UDP port")
_UPSTREAM_PID = re.compile(rb"pid = (\d+)")


@dataclass
class Side:
    name: str
    mosh: list[str]  # the wrapper, with whatever it needs to find its client and server
    server: str
    client: str
    env: dict[str, str]
    cleanup: Callable[[bytes], None]  # given what the pty showed, end what is left


def _ours(daemon: RealDaemon) -> Side:
    env = dict(daemon.env, **LOCALE)

    def kill_leftovers(_output: bytes) -> None:
        listed = subprocess.run(
            [str(BIN / "mosh-server"), "list"], env=env, capture_output=True, text=True, check=True
        )
        for line in listed.stdout.splitlines()[1:]:  # after the header ("no sessions": none)
            session_id = line.split()[0]
            subprocess.run([str(BIN / "mosh-server"), "kill", session_id], env=env, check=False)

    return Side(
        "moshd",
        [str(BIN / "mosh")],
        str(BIN / "mosh-server"),
        str(BIN / "mosh-client"),
        env,
        kill_leftovers,
    )


def _upstream() -> Side:
    def kill_server(output: bytes) -> None:
        # mosh-server says `[mosh-server detached, pid = N]`; the wrapper passes it on.
        for match in _UPSTREAM_PID.finditer(output):
            pid = int(match.group(1))
            with contextlib.suppress(OSError):  # gone already, as it should be
                if b"mosh-server" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGTERM)

    return Side(
        "mosh 1.4",
        [str(UPSTREAM_MOSH), f"--client={UPSTREAM_CLIENT}", f"--server={UPSTREAM_SERVER}"],
        str(UPSTREAM_SERVER),
        str(UPSTREAM_CLIENT),
        dict(os.environ, **LOCALE),
        kill_server,
    )


# --- the measures -------------------------------------------------------------------------------
def to_prompt(side: Side) -> float:
    """`mosh --local 127.0.0.1 -- bash`: seconds from starting it until the prompt shows."""
    started = time.monotonic()
    client = PtyClient([*side.mosh, "--local", "127.0.0.1", "--", *SHELL], side.env)
    try:
        shown = wait_for_prompt(client)
        client.type(b"exit\r")  # the session ends with its shell, and the client with it
        with contextlib.suppress(subprocess.TimeoutExpired):
            client.process.wait(timeout=10)
    finally:
        client.close()
        side.cleanup(bytes(client.output))
    return shown - started


def server_new(side: Side) -> float:
    """`mosh-server new` alone: seconds until it has printed MOSH CONNECT and exited."""
    argv = [side.server, "new", "-c", "256", "-i", "127.0.0.1", "--", *SHELL]
    started = time.monotonic()
    result = subprocess.run(argv, env=side.env, capture_output=True, timeout=20, check=False)
    elapsed = time.monotonic() - started
    if b"MOSH CONNECT" not in result.stdout:
        raise RuntimeError(f"{side.name}: mosh-server new failed: {result.stderr.decode()}")
    session = _SESSION.search(result.stderr.decode(errors="replace"))
    if session:  # ours
        subprocess.run([side.server, "kill", session.group(1)], env=side.env, check=True)
    side.cleanup(result.stderr)
    return elapsed


def _timed_run(argv: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(argv, env=env, capture_output=True, timeout=20, check=True)
    return time.monotonic() - started


def client_colors(side: Side) -> float:
    return _timed_run([side.client, "-c"], side.env)


def wrapper_help(side: Side) -> float:
    return _timed_run([side.mosh[0], "--help"], side.env)


MEASURES: list[tuple[str, Callable[[Side], float]]] = [
    ("mosh --local 127.0.0.1 to prompt", to_prompt),
    ("mosh-server new", server_new),
    ("mosh-client -c", client_colors),
    ("mosh --help", wrapper_help),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each first")
    args = parser.parse_args()
    daemon = RealDaemon(ports="64700:64799")
    daemon.start()
    try:
        sides = [_ours(daemon)] + ([_upstream()] if upstream_installed() else [])
        print(f"{'median of ' + str(args.repeat) + ' (ms)':<36}", end="")
        print("".join(f"{side.name:>10}" for side in sides))
        for name, measure in MEASURES:
            for _ in range(args.warmup):
                for side in sides:
                    measure(side)
            times: dict[str, list[float]] = {side.name: [] for side in sides}
            for _ in range(args.repeat):
                for side in sides:  # alternate, so that both see the same machine load
                    times[side.name].append(measure(side))
            medians = [statistics.median(times[side.name]) * 1000 for side in sides]
            print(f"{name:<36}" + "".join(f"{median:>10.0f}" for median in medians))
    finally:
        daemon.stop()
    if not upstream_installed():
        print("(upstream mosh not installed: apt-get install mosh)")


if __name__ == "__main__":
    main()

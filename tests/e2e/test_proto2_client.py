"""Our `mosh` and `mosh-client` against the distribution's stock mosh-server 1.4 (protocol 2).

Sessions start as a user would start them: `mosh --local --server=/usr/bin/mosh-server
127.0.0.1` typed into tmux (and `mosh root@127.0.0.1` through the throwaway sshd). Full-screen
programs are compared with the same programs run directly in tmux, and with stock mosh at
both ends (`/usr/bin/mosh`, `/usr/bin/mosh-client`) in the same run. Prediction, loss and
roaming run our `mosh-client` on a pty through the impairment proxy.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from testsupport.harness import BIN, SHELL, Tmux, report_exit
from testsupport.measure import typing_latencies
from testsupport.ptydriver import PtyClient
from testsupport.sides import UPSTREAM_CLIENT, UPSTREAM_SERVER, Side, client_through_link, upstream
from testsupport.sshd import Sshd, free_loopback_port

pytestmark = [
    pytest.mark.skipif(
        not (UPSTREAM_SERVER.exists() and UPSTREAM_CLIENT.exists()),
        reason="upstream mosh 1.4 not installed",
    ),
    pytest.mark.timeout(180),
]

OUR_MOSH = [str(BIN / "mosh")]
STOCK_MOSH = ["/usr/bin/mosh", f"--client={UPSTREAM_CLIENT}"]
LOCAL = ["--local", f"--server={UPSTREAM_SERVER}", "127.0.0.1"]
# In the environment of every stock server these tests start, so that none outlives them.
RUN_MARK = f"proto2-e2e-{uuid.uuid4().hex[:12]}"
PANE_ENV = {"PS1": "$ ", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PROTO2_E2E_RUN": RUN_MARK}


@pytest.fixture(autouse=True)
def no_server_left_behind() -> Iterator[None]:
    """A test that fails half-way leaves its stock mosh-server waiting for a client that
    never comes back (for hours): end those of this run."""
    yield
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0]
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if argv0.endswith(b"mosh-server") and RUN_MARK.encode() in environ:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGTERM)


# --- helpers --------------------------------------------------------------------------------
def start_in_tmux(tmux: Tmux, argv: list[str]) -> None:
    """Run `argv` in the pane, then report its exit status and keep the pane."""
    tmux.start(report_exit(argv), env=PANE_ENV)


def mosh_local(tmux: Tmux, mosh: list[str], *command: str) -> None:
    start_in_tmux(tmux, [*mosh, *LOCAL, "--", *(command or SHELL)])


def settled(tmux: Tmux, quiet: float = 0.4, timeout: float = 10.0) -> str:
    """The pane's text once it has not changed for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = tmux.capture(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        screen = tmux.capture()
        if screen != last:
            last, since = screen, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return screen
    return last


@pytest.fixture
def panes() -> Iterator[Callable[[], Tmux]]:
    """Makes tmux panes (80x24), killed at the end."""
    made: list[Tmux] = []

    def make() -> Tmux:
        pane = Tmux()
        made.append(pane)
        return pane

    yield make
    for pane in made:
        pane.kill()


# --- a shell ----------------------------------------------------------------------------------
def test_a_shell_runs_and_its_exit_ends_the_client_cleanly(tmux: Tmux) -> None:
    mosh_local(tmux, OUR_MOSH)
    tmux.wait_prompt()
    tmux.run_line("echo proto-$((6*7))")
    tmux.wait_for(lambda s: "\nproto-42\n" in s, what="the command's output")
    # The server's shutdown: the shell exits, the server says goodbye, we leave cleanly.
    tmux.run_line("exit")
    assert tmux.wait_exit() == 0
    assert "[mosh is exiting.]" in tmux.capture()


def test_a_resize_reaches_the_program(tmux: Tmux) -> None:
    mosh_local(tmux, OUR_MOSH)
    tmux.wait_prompt()
    tmux.run_line("stty size")
    tmux.wait_for(lambda s: "\n24 80\n" in s, what="80x24")
    tmux.resize(100, 30)
    time.sleep(0.3)
    tmux.run_line("clear; stty size")
    tmux.wait_for(lambda s: s.splitlines()[:1] == ["30 100"], what="the new size, at the top")
    tmux.run_line("seq 1 40")  # the whole new height is drawn
    tmux.wait_for(lambda s: s.splitlines()[-2:-1] == ["40"], what="seq's end, at the bottom")
    assert len(settled(tmux).splitlines()) == 30
    tmux.run_line("exit")
    assert tmux.wait_exit() == 0


def _udp_ports_bound_on_loopback() -> set[int]:
    ports = set()
    for row in Path("/proc/net/udp").read_text().splitlines()[1:]:
        address, _, port_hex = row.split()[1].partition(":")
        if address == "0100007F":  # 127.0.0.1, as the kernel prints it
            ports.add(int(port_hex, 16))
    return ports


def test_the_wrappers_options_mean_the_same_against_a_stock_server(tmux: Tmux) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # for -p: free a moment ago
    script = "echo opts-$((6*7)); read line; echo got-$line; sleep 1"
    start_in_tmux(tmux, [*OUR_MOSH, "--no-init", "-p", str(port), *LOCAL, "--", "sh", "-c", script])
    tmux.wait_for_text("opts-42", timeout=20)
    assert port in _udp_ports_bound_on_loopback()  # the server took the port asked for
    tmux.run_line("abc")
    tmux.wait_for_text("got-abc")
    assert tmux.wait_exit() == 0
    assert "opts-42" in tmux.capture()  # --no-init: no alternate screen took the session away


# --- full-screen programs, as direct tmux shows them ------------------------------------------
def _text_file(tmp_path: Path) -> Path:
    path = tmp_path / "sample.txt"
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "mu"]
    lines = [
        f"{n:03d} " + " ".join(words[(n * k) % len(words)] for k in range(1 + n % 11))
        for n in range(1, 301)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


VIM_KEYS: list[list[str]] = [
    [],  # as opened
    ["Down", "Down", "Down", "Right", "Right"],  # arrow keys (the server's cursor-key rewrite)
    ["C-f"],
    ["C-f", "C-b", "Up"],
    ["/", "150 ", "Enter"],
    ["G"],
    ["g", "g", "o", "inserted text", "Escape"],
    [":", "set nu", "Enter"],
]
LESS_KEYS: list[list[str]] = [
    [],
    ["Space"],
    ["Down", "Down", "Down"],
    ["G"],
    ["Up", "Up"],
    ["/", "gamma delta", "Enter"],
    ["g"],
]


def _press(pane: Tmux, keys: list[str]) -> None:
    for key in keys:
        if key in ("Down", "Up", "Left", "Right", "Enter", "Escape", "Space") or key.startswith(
            "C-"
        ):
            pane.keys(key)
        else:
            pane.type(key)
        time.sleep(0.05)


def _compare_screens(
    make: Callable[[], Tmux],
    program: list[str],
    steps: list[list[str]],
    ready: str,
    quit_keys: list[str],
) -> None:
    direct, ours, stock = make(), make(), make()
    start_in_tmux(direct, program)
    mosh_local(ours, OUR_MOSH, *program)
    mosh_local(stock, STOCK_MOSH, *program)
    for pane in (direct, ours, stock):
        pane.wait_for_text(ready, timeout=20)
    ours_equal = stock_equal = 0
    differences: list[str] = []
    for number, keys in enumerate(steps):
        for pane in (direct, ours, stock):
            _press(pane, keys)
        want = settled(direct)
        ours_screen, stock_screen = settled(ours), settled(stock)
        ours_equal += ours_screen == want
        stock_equal += stock_screen == want
        if ours_screen != want:
            differences.append(f"step {number} {keys}:\n{ours_screen}\n--- direct:\n{want}")
    # The program ends: so do both sessions (no server is left waiting for its client).
    for pane in (ours, stock):
        _press(pane, quit_keys)
    assert ours.wait_exit() == 0
    stock.wait_exit()
    assert ours_equal >= stock_equal, "\n".join(differences)
    assert ours_equal == len(steps), "\n".join(differences)


def test_vim_screens_equal_direct_tmux(panes: Callable[[], Tmux], tmp_path: Path) -> None:
    sample = _text_file(tmp_path)
    vim = ["vim", "-u", "NONE", "-i", "NONE", "-N", "-n", str(sample)]
    _compare_screens(panes, vim, VIM_KEYS, "001 ", ["Escape", ":", "qa!", "Enter"])


def test_less_screens_equal_direct_tmux(panes: Callable[[], Tmux], tmp_path: Path) -> None:
    sample = _text_file(tmp_path)
    _compare_screens(panes, ["less", str(sample)], LESS_KEYS, "001 ", ["q"])


# --- our mosh-client on a pty, through the impairment proxy -----------------------------------
@pytest.fixture
def stock_server() -> Iterator[Side]:
    with upstream(*SHELL, port=free_loopback_port()) as side:
        yield replace(side, name="ours on stock", client_argv=[str(BIN / "mosh-client")])


def _warm_up(client: PtyClient) -> None:
    client.wait_for(lambda s: s.text_lines()[s.cursor_row] == "$", 20, "the prompt")
    client.type(b"echo warm-$((1+1))\r")
    client.wait_for(
        lambda s: (
            s.text_lines()[s.cursor_row - 1 : s.cursor_row + 1] == ["warm-2", "$"]
            and s.cursor_col == 2
        ),
        what="the prompt after warm-2",
    )


def test_typed_characters_are_predicted_through_a_slow_link(stock_server: Side) -> None:
    rtt = 0.250
    link = client_through_link(stock_server, delay=rtt / 2, MOSH_PREDICTION_DISPLAY="adaptive")
    with link as (client, _):
        _warm_up(client)
        latencies = typing_latencies(client, "echo predicted", lambda s: s.cursor_row, gap=0.15)
        shown = [round(x * 1000, 1) for x in latencies]
        assert statistics.median(latencies) < 0.010, shown
        assert max(latencies) >= rtt * 0.8, shown  # the line's first character waits
        client.type(b"\r")
        client.wait_for(lambda s: "predicted" in s.text_lines()[s.cursor_row - 1], what="output")


def test_lines_get_through_29_percent_loss_and_the_screen_stays_exact(stock_server: Side) -> None:
    """On this link the server often diffs against a state older than our newest (its ack
    was lost): the client must then rebuild that state's screen, or the screen goes wrong."""
    link = client_through_link(stock_server, delay=0.05, loss=0.29, seed=11, height=40)
    with link as (client, _):
        client.wait_for(lambda s: s.text_lines()[s.cursor_row] == "$", 60, "the prompt")
        expected = []
        for n in range(1, 9):
            command = f"echo lossy{n}-$(({n}*7)) {'x' * (n * 7)}"
            client.type(command.encode() + b"\r")
            client.wait_for_text(f"lossy{n}-{n * 7} ", timeout=60)
            expected += [f"$ {command}", f"lossy{n}-{n * 7} {'x' * (n * 7)}"]
        expected.append("$")
        client.wait_for(
            lambda s: [line for line in s.text_lines() if line] == expected,
            30,
            "exactly the session's lines",
        )


def test_the_session_follows_the_client_when_it_roams(stock_server: Side) -> None:
    with client_through_link(stock_server) as (client, proxy):
        _warm_up(client)
        proxy.new_source_port()  # as if the client's network had changed
        client.type(b"echo roamed-$((2+2))\r")
        client.wait_for_text("roamed-4", timeout=20)
        assert proxy.stats()["up"]["forwarded"] > 0


# --- through a real sshd -----------------------------------------------------------------------
def test_mosh_over_ssh_to_a_stock_server(tmux: Tmux, sshd: Sshd, tmp_path: Path) -> None:
    # The stock server, behind a script noting what the wrapper asked of moshd.
    noted = tmp_path / "protocol"
    server = tmp_path / "mosh-server"
    server.write_text(
        "#!/bin/sh\n"
        f'printf %s "$MOSHD_PROTOCOL" > {shlex.quote(str(noted))}\n'
        f"export PROTO2_E2E_RUN={RUN_MARK}\n"
        f'exec {UPSTREAM_SERVER} "$@"\n'
    )
    server.chmod(0o755)
    start_in_tmux(tmux, [*OUR_MOSH, sshd.ssh_option(), f"--server={server}", "root@127.0.0.1"])
    tmux.wait_prompt()
    tmux.run_line("echo over-ssh-$((6*7))")
    tmux.wait_for(lambda s: "\nover-ssh-42\n" in s, what="the command's output")
    assert noted.read_text() == "native"  # moshd would answer with its own protocol
    tmux.run_line("exit")
    assert tmux.wait_exit() == 0

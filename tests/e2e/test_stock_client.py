"""The distribution's upstream mosh 1.4 client against moshd, in tmux, as a person uses it.

Upstream's perl wrapper runs our `mosh-server` (`mosh --local --server=<ours>`, which runs it
as it would over ssh, without MOSHD_PROTOCOL) and then upstream's `mosh-client`; or
`/usr/bin/mosh-client` is given the key of a stock session directly, for the runs through the
impairment proxy. Screens are compared with the same programs run directly in tmux.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport.harness import BIN, SHELL, RealDaemon, Tmux
from testsupport.impair import ProxyProcess

STOCK_WRAPPER = Path("/usr/bin/mosh")
STOCK_CLIENT = Path("/usr/bin/mosh-client")
SHELL_ARGV = ("env", "PS1=$ ", "TERM=xterm-256color", *SHELL)
CONNECT = re.compile(r"MOSH CONNECT (\d+) ([A-Za-z0-9+/]{22})\s")

pytestmark = pytest.mark.skipif(
    not (STOCK_WRAPPER.exists() and STOCK_CLIENT.exists()), reason="upstream mosh not installed"
)


def _pane_env(daemon: RealDaemon) -> dict[str, str]:
    """What the user's login on the server would have: the daemon's runtime directory."""
    names = ("XDG_RUNTIME_DIR", "XDG_STATE_HOME", "MOSHD_PORT", "MOSHD_BIND", "HOME")
    return {name: daemon.env[name] for name in names} | {"LANG": "C.UTF-8"}


def _wrapper_command(*options: str) -> str:
    return shlex.join(
        [
            str(STOCK_WRAPPER),
            f"--client={STOCK_CLIENT}",
            f"--server={BIN / 'mosh-server'}",
            "--local",
            *options,
            "127.0.0.1",
            "--",
            *SHELL_ARGV,
        ]
    )


def _client_command(key: str, host: str, port: int, *env: str) -> str:
    assigned = " ".join(shlex.quote(item) for item in (f"MOSH_KEY={key}", "LANG=C.UTF-8", *env))
    return f"env {assigned} {STOCK_CLIENT} {host} {port}"


def _run(tmux: Tmux, line: str) -> None:
    tmux.type(line)
    tmux.keys("Enter")


def _prompt(tmux: Tmux) -> None:
    tmux.wait_for(lambda s: s.rstrip().endswith("$"), what="the shell prompt")


def _sessions(daemon: RealDaemon) -> list[dict[str, object]]:
    result = subprocess.run(
        [str(BIN / "mosh-server"), "list"], env=daemon.env, capture_output=True, text=True
    )
    lines = result.stdout.splitlines()
    header = lines[0].split()
    return [dict(zip(header, line.split(), strict=False)) for line in lines[1:]]


def _events(daemon: RealDaemon, name: str) -> list[dict[str, object]]:
    events = [json.loads(line) for line in daemon.logs().splitlines() if line.startswith("{")]
    return [e for e in events if e.get("event") == name]


@pytest.fixture
def stock(tmux: Tmux, real_daemon: RealDaemon) -> Tmux:
    """Upstream's wrapper and client in tmux, on a session of our daemon."""
    tmux.start(_wrapper_command(), env=_pane_env(real_daemon))
    _prompt(tmux)
    return tmux


@pytest.fixture
def direct() -> Iterator[Tmux]:
    """The same shell run directly in tmux, for comparison."""
    pane = Tmux()
    pane.start(shlex.join(SHELL_ARGV), env={"LANG": "C.UTF-8"})
    _prompt(pane)
    yield pane
    pane.kill()


def _both(panes: tuple[Tmux, Tmux], line: str) -> None:
    for pane in panes:
        _run(pane, line)


def _cleared(panes: tuple[Tmux, Tmux]) -> None:
    for pane in panes:
        _run(pane, "clear")
        pane.wait_for(lambda s: s.strip() == "$", what="a clear screen")


def _settled(pane: Tmux, ready: object, what: str) -> tuple[list[str], tuple[int, int]]:
    """The screen once `ready` holds and nothing changed for a moment."""
    assert callable(ready)
    pane.wait_for(ready, what=what)
    last = (pane.lines(), pane.cursor())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = (pane.lines(), pane.cursor())
        if now == last:
            return now
        last = now
    return last


def test_a_stock_client_gets_a_working_shell_of_a_stock_session(
    stock: Tmux, real_daemon: RealDaemon
) -> None:
    _run(stock, "echo $((6*7))")
    stock.wait_for(lambda s: "\n42\n" in s, what="42 on its own line")
    [listed] = _sessions(real_daemon)
    assert listed["PROTO"] == "proto2"
    assert str(listed["PEER"]).startswith("127.0.0.1:")


def test_vim_and_less_look_as_they_do_directly_in_tmux(stock: Tmux, direct: Tmux) -> None:
    panes = (stock, direct)
    _cleared(panes)
    _both(panes, "printf 'line %s\\n' 1 2 3 > /tmp/moshd-stock-vim.txt; clear")
    _cleared(panes)
    _both(panes, "vim -u NONE -N -n -c 'set nu' /tmp/moshd-stock-vim.txt")
    screens = [_settled(p, lambda s: "  3 line 3" in s, "vim") for p in panes]
    assert screens[0] == screens[1]
    for pane in panes:
        pane.type("jjA, edited")
        pane.keys("Escape")
    screens = [_settled(p, lambda s: "line 3, edited" in s, "vim's edit") for p in panes]
    assert screens[0] == screens[1]
    for pane in panes:
        pane.type(":q!")
        pane.keys("Enter")
    screens = [
        _settled(p, lambda s: s.rstrip().endswith("$"), "the shell after vim") for p in panes
    ]
    assert screens[0] == screens[1]
    _cleared(panes)
    _both(panes, "seq 1 200 | less")
    screens = [_settled(p, lambda s: "\n23\n" in s, "less") for p in panes]
    assert screens[0] == screens[1]
    for pane in panes:
        pane.keys("Space")
    screens = [_settled(p, lambda s: "\n46\n" in s, "less's next page") for p in panes]
    assert screens[0] == screens[1]
    for pane in panes:
        pane.type("q")
    screens = [
        _settled(p, lambda s: s.rstrip().endswith("$"), "the shell after less") for p in panes
    ]
    assert screens[0] == screens[1]


def test_utf8_wide_characters_and_colours_as_directly_in_tmux(stock: Tmux, direct: Tmux) -> None:
    panes = (stock, direct)
    _cleared(panes)
    _both(
        panes,
        "printf 'wide: \\346\\227\\245\\346\\234\\254\\350\\252\\236 ok\\n"
        "acc: h\\303\\251llo \\342\\234\\223\\n"
        "\\033[31mred\\033[0m \\033[1;4mbold-ul\\033[0m \\033[38;5;208mx256\\033[0m "
        "\\033[38;2;10;200;30mtrue\\033[0m \\033[44mbg\\033[0m\\n'",
    )
    screens = [_settled(p, lambda s: "bold-ul" in s and "acc: h" in s, "output") for p in panes]
    assert screens[0] == screens[1]
    assert "wide: 日本語 ok" in screens[0][0]
    coloured = [
        [line for line in p.capture(escapes=True).splitlines() if "bold-ul\x1b" in line]
        for p in panes
    ]
    assert coloured[0] == coloured[1] and len(coloured[0]) == 1
    assert "38;2;10;200;30" in coloured[0][0]  # true colour passed through


def test_a_resize_reaches_the_program(stock: Tmux) -> None:
    stock.resize(100, 30)
    time.sleep(0.3)
    _run(stock, "stty size")
    stock.wait_for_text("30 100")
    stock.resize(60, 20)
    time.sleep(0.3)
    _run(stock, "clear; stty size; printf '%060d' 0")
    # 60 zeros fill the 60 columns exactly: one row, not wrapped at an old width.
    stock.wait_for(lambda screen: "20 60" in screen and "0" * 60 in screen, 10, "60 columns")


def test_predictions_are_underlined_then_confirmed_by_echo_acks(
    tmux: Tmux, real_daemon: RealDaemon
) -> None:
    session = real_daemon.new_session(*SHELL_ARGV, protocol="proto2")
    with ProxyProcess(
        ("127.0.0.1", session.port), up={"delay": 0.15}, down={"delay": 0.15}
    ) as proxy:
        host, port = proxy.address
        tmux.start(_client_command(session.key, host, port, "MOSH_PREDICTION_DISPLAY=always"))
        _prompt(tmux)
        _run(tmux, "echo warm-$((1+1))")
        tmux.wait_for(lambda s: "\nwarm-2\n" in s, what="warm-2")
        time.sleep(1.0)
        tmux.type("e")  # opens the epoch: shown once the server confirms it
        tmux.wait_for(lambda s: s.rstrip().endswith("$ e"), what="e")
        time.sleep(0.5)
        tmux.type("c")
        time.sleep(0.08)  # well within the round trip: only a prediction can show it
        predicted = tmux.capture(escapes=True)
        assert "\x1b[4mc" in predicted, predicted  # underlined: not yet confirmed
        confirmed = tmux.wait_for(lambda s: s.rstrip().endswith("$ ec"), what="ec")
        time.sleep(0.6)
        assert "\x1b[4m" not in tmux.capture(escapes=True), confirmed  # the echo ack came


def test_a_typed_line_gets_through_29_percent_loss(tmux: Tmux, real_daemon: RealDaemon) -> None:
    session = real_daemon.new_session(*SHELL_ARGV, protocol="proto2")
    with ProxyProcess(("127.0.0.1", session.port), both={"loss": 0.29}, seed=7) as proxy:
        host, port = proxy.address
        tmux.start(_client_command(session.key, host, port))
        tmux.wait_for(lambda s: s.rstrip().endswith("$"), timeout=20, what="the prompt")
        _run(tmux, "echo lossy-$((3*3))")
        screen = tmux.wait_for(lambda s: "\nlossy-9\n" in s, timeout=20, what="lossy-9")
        assert screen.count("\nlossy-9\n") == 1


def test_a_stock_client_roams_through_the_proxy(tmux: Tmux, real_daemon: RealDaemon) -> None:
    session = real_daemon.new_session(*SHELL_ARGV, protocol="proto2")
    with ProxyProcess(("127.0.0.1", session.port)) as proxy:
        host, port = proxy.address
        tmux.start(_client_command(session.key, host, port))
        _prompt(tmux)
        _run(tmux, "echo one-$((1+1))")
        tmux.wait_for(lambda s: "\none-2\n" in s, what="one-2")
        proxy.new_source_address("127.0.0.2")
        _run(tmux, "echo two-$((2+2))")
        tmux.wait_for(lambda s: "\ntwo-4\n" in s, what="two-4 after the roam")
        proxy.new_source_address("127.0.0.3")
        _run(tmux, "echo three-$((3+3))")
        screen = tmux.wait_for(lambda s: "\nthree-6\n" in s, what="three-6 after the second")
    for output in ("one-2", "two-4", "three-6"):
        assert screen.count(f"\n{output}\n") == 1, screen
    roams = _events(real_daemon, "session.roamed")
    assert [str(r["new_peer"]).split(":")[0] for r in roams] == ["127.0.0.2", "127.0.0.3"]


def test_kill_ends_a_stock_clients_session(stock: Tmux, real_daemon: RealDaemon) -> None:
    [listed] = _sessions(real_daemon)
    killed = subprocess.run(
        [str(BIN / "mosh-server"), "kill", str(listed["SESSION"])], env=real_daemon.env
    )
    assert killed.returncode == 0
    stock.wait_for(lambda s: stock.pane_dead(), what="the stock client's exit")
    assert _sessions(real_daemon) == []


def test_attach_hands_a_stock_session_to_another_stock_client(
    stock: Tmux, real_daemon: RealDaemon
) -> None:
    _run(stock, "echo from-the-first-$((1+1))")
    stock.wait_for(lambda s: "\nfrom-the-first-2\n" in s, what="the first client's line")
    [listed] = _sessions(real_daemon)
    attached = subprocess.run(
        [str(BIN / "mosh-server"), "attach", str(listed["SESSION"])],
        env=real_daemon.env,
        capture_output=True,
        text=True,
    )
    match = CONNECT.search(attached.stdout)
    assert attached.returncode == 0 and match, attached.stdout + attached.stderr
    second = Tmux()
    try:
        second.start(_client_command(match.group(2), "127.0.0.1", int(match.group(1))))
        second.wait_for(lambda s: "from-the-first-2" in s, what="the screen, taken over")
        _run(second, "echo from-the-second-$((2+2))")
        second.wait_for(lambda s: "\nfrom-the-second-4\n" in s, what="the second client's line")
        stock.wait_for(lambda s: stock.pane_dead(), what="the first client let go")
    finally:
        second.kill()


def test_a_native_and_a_stock_session_side_by_side_on_one_port(
    stock: Tmux, real_daemon: RealDaemon
) -> None:
    native = real_daemon.new_session(*SHELL_ARGV)
    assert len(native.key) == 43
    other = Tmux()
    try:
        other.start(
            f"env MOSH_KEY={native.key} {BIN / 'mosh-client'} 127.0.0.1 {native.port}",
        )
        _prompt(other)
        _run(stock, "echo stock-$((1+1))")
        _run(other, "echo native-$((2+2))")
        stock.wait_for(lambda s: "\nstock-2\n" in s, what="stock-2")
        other.wait_for(lambda s: "\nnative-4\n" in s, what="native-4")
        listed = _sessions(real_daemon)
        assert sorted(str(s["PROTO"]) for s in listed) == ["native", "proto2"]
        assert len({s["PORT"] for s in listed}) == 1 and native.port == int(str(listed[0]["PORT"]))
    finally:
        other.kill()

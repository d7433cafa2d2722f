"""mosh-client inside tmux against a real daemon, over real UDP on loopback."""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from testsupport.harness import SHELL, RealDaemon, Session, Tmux, client_command
from testsupport.impair import ProxyProcess

PROMPT = "$ "


def _attach(tmux: Tmux, daemon: RealDaemon, *extra_env: str, wrap: str | None = None) -> Session:
    session = daemon.new_session(*SHELL)
    command = client_command(session, "127.0.0.1", *extra_env)
    tmux.start(wrap.format(client=command) if wrap else command)
    tmux.wait_for(lambda s: s.rstrip().endswith("$"), what="the shell prompt")
    return session


def _run(tmux: Tmux, line: str) -> None:
    tmux.type(line)
    tmux.keys("Enter")


def test_typed_command_shows_its_output(tmux: Tmux, real_daemon: RealDaemon) -> None:
    _attach(tmux, real_daemon)
    _run(tmux, "echo $((6*7))")
    tmux.wait_for(lambda s: "\n42\n" in s, what="42 on its own line")


def test_vim_and_less_restore_the_shell_screen(tmux: Tmux, real_daemon: RealDaemon) -> None:
    _attach(tmux, real_daemon)
    _run(tmux, "echo marker-before-vim")
    tmux.wait_for(lambda s: s.count("marker-before-vim") == 2, what="the marker")
    _run(tmux, "vim -u NONE -N -n")
    tmux.wait_for(lambda s: "marker-before-vim" not in s, what="vim's screen")
    tmux.type("ihello from vim")
    tmux.keys("Escape")
    tmux.wait_for_text("hello from vim")
    tmux.type(":q!")
    tmux.keys("Enter")
    screen = tmux.wait_for(lambda s: "marker-before-vim" in s, what="the shell screen back")
    assert "hello from vim" not in screen

    _run(tmux, "seq 1 200 | less")
    tmux.wait_for(lambda s: "\n23\n" in s and "marker-before-vim" not in s, what="less")
    tmux.type("q")
    screen = tmux.wait_for(lambda s: "marker-before-vim" in s, what="the shell after less")
    assert "\n23\n" not in screen


def test_resize_reaches_the_remote_pty(tmux: Tmux, real_daemon: RealDaemon) -> None:
    _attach(tmux, real_daemon)
    tmux.resize(100, 30)
    time.sleep(0.3)
    _run(tmux, "stty size")
    tmux.wait_for_text("30 100")
    tmux.resize(60, 20)
    time.sleep(0.3)
    _run(tmux, "clear; stty size; printf '%060d' 0")
    screen = tmux.wait_for_text("20 60")
    assert "0" * 60 in screen


def test_escape_quits_and_the_outer_terminal_is_cooked_again(
    tmux: Tmux, real_daemon: RealDaemon, tmp_path: Path
) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    wrap = f"sh -c 'stty -g > {before}; {{client}}; echo exit=$?; stty -g > {after}; sleep 60'"
    session = daemon_session = real_daemon.new_session(*SHELL)
    del daemon_session
    tmux.start(wrap.format(client=client_command(session).replace("'", "'\\''")))
    tmux.wait_for(lambda s: s.rstrip().endswith("$"), what="the prompt")
    tmux.keys("C-^")
    tmux.type(".")
    tmux.wait_for_text("exit=0")
    deadline = time.monotonic() + 5
    while not after.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert after.read_text() == before.read_text()
    assert "\x1b" not in tmux.capture()  # no stray escape sequences left on screen


def test_printable_escape_key(tmux: Tmux, real_daemon: RealDaemon, tmp_path: Path) -> None:
    marker = tmp_path / "done"
    session = real_daemon.new_session(*SHELL)
    command = client_command(session, "127.0.0.1", "MOSH_ESCAPE_KEY=~")
    tmux.start(f"sh -c {shlex.quote(command + f'; touch {marker}; sleep 60')}")
    tmux.wait_for(lambda s: s.rstrip().endswith("$"), what="the prompt")
    _run(tmux, "echo a~~b")  # mid-line: both tildes are sent
    tmux.wait_for(lambda s: "\na~~b\n" in s, what="mid-line tildes untouched")
    tmux.type("~~")  # right after a newline: one tilde is sent
    tmux.wait_for(lambda s: s.splitlines()[-1:] == [] or "$ ~" in s, what="one tilde")
    lines = [line.rstrip() for line in tmux.capture().splitlines() if line.strip()]
    assert lines[-1] == "$ ~"
    tmux.keys("C-u", "Enter")
    tmux.type("~.")
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline, tmux.capture()
        time.sleep(0.05)


def test_blackout_shows_last_contact_and_input_arrives_once(
    tmux: Tmux, real_daemon: RealDaemon
) -> None:
    session = real_daemon.new_session(*SHELL)
    with ProxyProcess(("127.0.0.1", session.port)) as proxy:
        host, port = proxy.address
        through_proxy = Session(port, session.key)
        tmux.start(client_command(through_proxy, host))
        tmux.wait_for(lambda s: s.rstrip().endswith("$"), what="the prompt")
        proxy.blackout(True)
        started = time.monotonic()
        tmux.wait_for_text("Last contact", timeout=10)
        assert time.monotonic() - started < 7.5
        _run(tmux, "echo typed-in-the-dark-$((3*4))")
        time.sleep(1.0)
        proxy.blackout(False)
        screen = tmux.wait_for(
            lambda s: "Last contact" not in s and "typed-in-the-dark-12" in s,
            timeout=15,
            what="the bar gone and the command run",
        )
        assert (
            screen.count("typed-in-the-dark-12") == 1
        )  # once: the output (the line shows $((3*4)))
        assert screen.count("echo typed-in-the-dark") == 1


COLOURFUL = (
    r"printf '\033[31mred\033[0m \033[1;44mboldblue\033[0m \033[38;5;208mc256\033[0m "
    r"\033[38;2;10;200;30mtrue\033[0m \033[2mdim\033[0m \033[3mital\033[0m \033[9mstrike\033[0m "
    r"\033[4munder\033[0m \033[7mrev\033[0m 中文字 e\314\201 x\n'"
)


def test_colours_wide_and_combining_match_tmux_directly(
    tmux: Tmux, real_daemon: RealDaemon
) -> None:
    direct = Tmux()
    try:
        direct.start("env PS1='$ ' " + " ".join(SHELL))
        direct.wait_for(lambda s: s.rstrip().endswith("$"), what="the direct prompt")
        _run(direct, COLOURFUL)
        direct.wait_for(_has_output_line, what="the printed line")
        expected = _line_with(direct.capture(escapes=True), "中文字")
    finally:
        direct.kill()
    _attach(tmux, real_daemon)
    _run(tmux, COLOURFUL)
    tmux.wait_for(_has_output_line, what="the printed line")
    assert _line_with(tmux.capture(escapes=True), "中文字") == expected


def _has_output_line(screen: str) -> bool:
    return any("中文字" in line and "\\033" not in line for line in screen.splitlines())


def _line_with(screen: str, needle: str) -> str:
    # The output line, not the (possibly wrapped) command line that printed it.
    lines = [line for line in screen.splitlines() if needle in line and "\\033" not in line]
    assert lines, screen
    return re.sub(r"\s+$", "", lines[-1])


def test_client_rejects_bad_key_and_address() -> None:
    from testsupport.harness import BIN

    bad_key = subprocess.run(
        [str(BIN / "mosh-client"), "127.0.0.1", "60001"],
        env={"MOSH_KEY": "short", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert bad_key.returncode == 1
    assert len(bad_key.stderr.strip().splitlines()) == 1
    no_key = subprocess.run(
        [str(BIN / "mosh-client"), "127.0.0.1", "60001"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert no_key.returncode == 1 and "MOSH_KEY" in no_key.stderr
    bad_host = subprocess.run(
        [str(BIN / "mosh-client"), "not-an-ip", "60001"],
        env={"MOSH_KEY": "A" * 43, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert bad_host.returncode == 1 and len(bad_host.stderr.strip().splitlines()) == 1


pytestmark = pytest.mark.e2e


def _pane_title(tmux: Tmux) -> str:
    return tmux._tmux("display-message", "-p", "-t", "main", "#{pane_title}").strip()


@pytest.mark.parametrize(
    ("extra_env", "expected"),
    [((), "[mosh] hello-title"), (("MOSH_TITLE_NOPREFIX=1",), "hello-title")],
)
def test_window_title_is_forwarded_with_the_prefix(
    tmux: Tmux, real_daemon: RealDaemon, extra_env: tuple[str, ...], expected: str
) -> None:
    _attach(tmux, real_daemon, *extra_env)
    _run(tmux, r"printf '\033]0;hello-title\007'")
    deadline = time.monotonic() + 5
    while _pane_title(tmux) != expected:
        assert time.monotonic() < deadline, _pane_title(tmux)
        time.sleep(0.05)


def test_suspend_and_resume_with_the_shell_job_control(tmux: Tmux, real_daemon: RealDaemon) -> None:
    session = real_daemon.new_session(*SHELL)
    tmux.start("env PS1='outer> ' bash --norc --noprofile")
    tmux.wait_for_text("outer>")
    _run(tmux, client_command(session))
    tmux.wait_for(lambda s: s.rstrip().endswith("$"), what="the remote prompt")
    _run(tmux, "echo inside-$((5*5))")
    tmux.wait_for_text("inside-25")
    tmux.keys("C-^", "C-z")
    tmux.wait_for(lambda s: "Stopped" in s and s.rstrip().endswith("outer>"), what="job stopped")
    _run(tmux, "fg")
    screen = tmux.wait_for(lambda s: "inside-25" in s and "outer>" not in s, what="repaint")
    assert "Stopped" not in screen
    _run(tmux, "echo back-$((6*6))")
    tmux.wait_for_text("back-36")


def test_sigterm_ends_the_client_and_the_session(tmux: Tmux, real_daemon: RealDaemon) -> None:
    from moshd.control import request

    _attach(tmux, real_daemon)
    assert len(request(real_daemon.control, {"op": "list"})["sessions"]) == 1
    pid = int(tmux._tmux("display-message", "-p", "-t", "main", "#{pane_pid}").strip())
    subprocess.run(["pkill", "-TERM", "-P", str(pid)], check=False)  # the client under `env`
    subprocess.run(["kill", "-TERM", str(pid)], check=False)
    deadline = time.monotonic() + 10
    while request(real_daemon.control, {"op": "list"})["sessions"]:
        assert time.monotonic() < deadline, "the session outlived its client's clean exit"
        time.sleep(0.05)
    assert "client_quit" in real_daemon.logs()

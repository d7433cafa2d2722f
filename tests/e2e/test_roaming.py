"""Roaming and blackouts with the real client in tmux, through the impairment proxy."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from testsupport.harness import SHELL, RealDaemon, Session, Tmux, client_command
from testsupport.impair import ProxyProcess


def _run(tmux: Tmux, line: str) -> None:
    tmux.type(line)
    tmux.keys("Enter")


def _events(daemon: RealDaemon, name: str) -> list[dict[str, object]]:
    events = [json.loads(line) for line in daemon.logs().splitlines() if line.startswith("{")]
    return [e for e in events if e.get("event") == name]


def test_two_roams_and_a_blackout(tmux: Tmux, real_daemon: RealDaemon) -> None:
    session = real_daemon.new_session(*SHELL)
    with ProxyProcess(("127.0.0.1", session.port)) as proxy:
        host, port = proxy.address
        tmux.start(client_command(Session(port, session.key), host))
        tmux.wait_for(lambda s: s.rstrip().endswith("$"), what="the prompt")
        _run(tmux, "echo one-$((1+1))")
        tmux.wait_for(lambda s: "\none-2\n" in s, what="one-2")

        proxy.new_source_address("127.0.0.2")  # new IP and port, as after a Wi-Fi change
        _run(tmux, "echo two-$((2+2))")
        tmux.wait_for(lambda s: "\ntwo-4\n" in s, what="two-4 after the first roam")

        proxy.blackout(True)
        _run(tmux, "echo three-$((3+3))")  # typed in the dark
        tmux.wait_for_text("Last contact", timeout=10)
        time.sleep(15 - 7)
        proxy.blackout(False)
        tmux.wait_for(
            lambda s: "\nthree-6\n" in s and "Last contact" not in s,
            timeout=15,
            what="three-6 and the bar gone",
        )

        proxy.new_source_address("127.0.0.3")
        _run(tmux, "echo four-$((4+4))")
        screen = tmux.wait_for(lambda s: "\nfour-8\n" in s, what="four-8 after the second roam")
    for output in ("one-2", "two-4", "three-6", "four-8"):
        assert screen.count(f"\n{output}\n") == 1, screen  # input arrived once
    roams = _events(real_daemon, "session.roamed")
    assert [r["new_peer"].split(":")[0] for r in roams] == ["127.0.0.2", "127.0.0.3"]  # type: ignore[union-attr]
    assert roams[1]["old_peer"] == roams[0]["new_peer"]
    rtts = _events(real_daemon, "session.rtt")
    assert rtts and all({"srtt_ms", "rttvar_ms", "peer"} <= set(e) for e in rtts)


@pytest.mark.slow
def test_a_sixty_second_blackout_is_survived(tmux: Tmux, real_daemon: RealDaemon) -> None:
    session = real_daemon.new_session(*SHELL)
    with ProxyProcess(("127.0.0.1", session.port)) as proxy:
        host, port = proxy.address
        tmux.start(client_command(Session(port, session.key), host))
        tmux.wait_for(lambda s: s.rstrip().endswith("$"), what="the prompt")
        proxy.blackout(True)  # the laptop's lid is closed
        tmux.wait_for_text("Last contact", timeout=10)
        time.sleep(55)
        assert "Last contact" in tmux.capture()
        proxy.blackout(False)
        _run(tmux, "echo back-$((6*7))")
        tmux.wait_for(lambda s: "\nback-42\n" in s and "Last contact" not in s, timeout=20)


@pytest.mark.slow
def test_a_client_stopped_for_two_minutes_resumes(tmux: Tmux, real_daemon: RealDaemon) -> None:
    session = real_daemon.new_session(*SHELL)
    tmux.start(client_command(session))
    tmux.wait_for(lambda s: s.rstrip().endswith("$"), what="the prompt")
    pid = int(tmux._tmux("display-message", "-p", "-t", "main", "#{pane_pid}").strip())
    os.kill(pid, signal.SIGSTOP)  # beyond the server's 40 s association timeout
    time.sleep(120)
    os.kill(pid, signal.SIGCONT)
    _run(tmux, "echo resumed-$((6*7))")
    tmux.wait_for(lambda s: "\nresumed-42\n" in s and "Last contact" not in s, timeout=20)

"""Predictive local echo through a 250 ms RTT link, end to end."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterator

import pytest

from testsupport.harness import BIN, SHELL, RealDaemon
from testsupport.impair import ProxyProcess
from testsupport.measure import typing_latencies
from testsupport.ptydriver import PtyClient

RTT = 0.250


@pytest.fixture
def slow_client(real_daemon: RealDaemon) -> Iterator[PtyClient]:
    session = real_daemon.new_session(*SHELL)
    half = RTT / 2
    with ProxyProcess(
        ("127.0.0.1", session.port), up={"delay": half}, down={"delay": half}
    ) as proxy:
        host, port = proxy.address
        env = dict(real_daemon.env, MOSH_KEY=session.key, MOSH_PREDICTION_DISPLAY="adaptive")
        client = PtyClient([str(BIN / "mosh-client"), host, str(port)], env)
        try:
            client.wait_for(lambda s: s.text_lines()[0].startswith("$"), what="the prompt")
            client.type(b"echo warm-$((1+1))\r")  # RTT measured, first epoch behind us
            client.wait_for(
                lambda s: (
                    s.text_lines()[s.cursor_row - 1 : s.cursor_row + 1] == ["warm-2", "$"]
                    and s.cursor_col == 2
                ),
                what="the prompt after warm-2",
            )
            yield client
        finally:
            client.close()


def _cursor_row(screen: object) -> int:
    return screen.cursor_row  # type: ignore[attr-defined, no-any-return]


def test_typed_characters_appear_at_once_through_a_slow_link(slow_client: PtyClient) -> None:
    latencies = typing_latencies(slow_client, "echo predicted", _cursor_row, gap=0.15)
    median = statistics.median(latencies)
    assert median < 0.005, str([round(x * 1000, 1) for x in latencies])
    # The first character of the line waits for the server (its epoch is unconfirmed).
    assert max(latencies) >= RTT * 0.8
    slow_client.type(b"\r")
    slow_client.wait_for(lambda s: "predicted" in s.text_lines()[s.cursor_row - 1], what="output")


def test_a_silent_prompt_never_shows_what_is_typed(slow_client: PtyClient) -> None:
    slow_client.type(b"read -s -p 'Secret: ' v; echo got-${#v}\r")
    slow_client.wait_for_text("Secret:")
    drawn_from = len(slow_client.output)
    for char in b"qzqzqz":
        slow_client.type(bytes([char]))
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            slow_client.pump(deadline - time.monotonic())
            row = [line for line in slow_client.screen.text_lines() if "Secret:" in line][-1]
            assert row.endswith("Secret:"), row
    time.sleep(RTT * 2)
    while slow_client.pump(0.05):
        pass
    assert b"q" not in slow_client.output[drawn_from:]
    assert b"z" not in slow_client.output[drawn_from:]
    slow_client.type(b"\r")
    slow_client.wait_for_text("got-6")


UPPERCASE_ECHO = (
    "import sys, tty\n"
    "tty.setraw(0)\n"
    "while (c := sys.stdin.read(1)) != '.':\n"
    "    sys.stdout.write(c.upper()); sys.stdout.flush()\n"
)


def test_a_misprediction_is_corrected_within_a_round_trip(slow_client: PtyClient) -> None:
    script = UPPERCASE_ECHO.replace("\n", "\\n").replace("'", "\\'")
    slow_client.type(f"clear; {sys.executable} -c $'{script}'\r".encode())
    slow_client.wait_for(lambda s: s.cursor_row == 0 and not s.text_lines()[0], what="clear")
    time.sleep(RTT * 2)
    for char in b"123":  # digits echo as typed: the epoch gets confirmed
        slow_client.type(bytes([char]))
        time.sleep(0.15)
    slow_client.wait_for(lambda s: s.text_lines()[0] == "123", what="digits echoed")
    time.sleep(RTT * 2)
    typed_at = slow_client.type(b"a")
    shown_at = slow_client.wait_for(lambda s: s.text_lines()[0] == "123a", what="the guess")
    assert shown_at - typed_at < 0.05  # predicted (wrongly)
    fixed_at = slow_client.wait_for(lambda s: s.text_lines()[0] == "123A", what="the correction")
    # The server's echo needs a round trip, plus the 50 ms echo_ack delay and frame pacing.
    assert fixed_at - typed_at < RTT + 0.2
    slow_client.type(b".")

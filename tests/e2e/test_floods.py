"""Floods: Ctrl-C under `yes`, bulk output at C speed. Our own bounds here; bench/networks.py
measures the same beside upstream mosh."""

from __future__ import annotations

import pytest

from testsupport.harness import Tmux
from testsupport.measure import ctrl_c_under_yes, seq_to_final_screen
from testsupport.sides import ours

# `seq 1 2000000` is 17 MB through a PTY: the emulator's fast path takes 0.12 s of it, the whole
# run 2.5 s on an idle 2-core machine; four times that for a busy CI machine.
SEQ_BOUND = 10.0


@pytest.mark.parametrize("rtt", [0.0, 0.25])
def test_ctrl_c_under_yes_brings_the_prompt_back_within_a_round_trip(rtt: float) -> None:
    with ours() as side:
        elapsed = ctrl_c_under_yes(side, rtt)
    print(f"moshd: prompt {elapsed * 1000:.0f} ms after Ctrl-C at RTT {rtt * 1000:.0f} ms")
    assert elapsed <= rtt + 0.020 + 0.030  # target RTT + 20 ms; 30 ms for a loaded 2-core CI


def test_seq_output_finishes_quickly_with_the_right_screen() -> None:
    with ours() as side:
        our_time, our_screen = seq_to_final_screen(side)
    print(f"moshd: seq 1 2000000 to the final screen in {our_time:.2f} s")
    assert our_time <= SEQ_BOUND
    direct = Tmux()
    try:
        direct.start("env PS1='$ ' bash --norc --noprofile")
        direct.wait_for(lambda s: s.rstrip().endswith("$"), what="prompt")
        direct.type("seq 1 2000000")
        direct.keys("Enter")
        expected = direct.wait_for(lambda s: "\n2000000\n$" in s, timeout=60, what="seq done")
    finally:
        direct.kill()
    rows = [line.rstrip() for line in expected.splitlines()]
    assert our_screen[: len(rows)] == rows[: len(our_screen)]

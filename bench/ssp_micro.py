"""Micro-benchmarks of the sans-IO SSP core.

    python bench/ssp_micro.py

Prints how many datagrams a second seal+open, how many keystroke round trips a second two
endpoints manage in-process, and how many bytes typical 80×24 screen changes cost on the wire.
No arguments; takes a few seconds.
"""

from __future__ import annotations

import os
import random
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ssp.crypto import Cipher, Key
from ssp.datagram import (
    DATAGRAM_OVERHEAD,
    DEFAULT_DATAGRAM_BYTES,
    TO_SERVER,
    Fragmenter,
    Instruction,
    Packet,
    open_packet,
    seal_packet,
)
from ssp.screen import DEFAULT_RENDITION, Framebuffer, Row
from ssp.transport import Endpoint, RemoteStateChanged
from ssp.userstream import UserStream

SERVER_ADDR = ("192.0.2.1", 60001)
CLIENT_ADDR = ("198.51.100.7", 40000)
TIME_PER_RATE = 1.5  # seconds of measuring per rate


def per_second(operation: Callable[[], None], seconds: float = TIME_PER_RATE) -> float:
    """Run `operation` repeatedly for about `seconds`; return calls per second."""
    operation()  # warm up
    calls = 0
    batch = 1
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            operation()
        calls += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls / elapsed
        batch = min(batch * 2, 4096)


def seal_open_rate(payload_bytes: int) -> float:
    cipher = Cipher(Key.generate())
    payload = os.urandom(payload_bytes)
    seq = 0

    def round_trip() -> None:
        nonlocal seq
        seq += 1
        data = seal_packet(cipher, Packet(1, TO_SERVER, seq, 100, 200, payload))
        open_packet(cipher, data)

    return per_second(round_trip)


def endpoint_round_trip_rate() -> float:
    """One keystroke client → server and the server's ack back, through the full stack."""
    key = Key.generate()
    now = 1000.0
    server: Endpoint[Framebuffer, UserStream] = Endpoint(
        key, "server", Framebuffer(), UserStream(), now
    )
    client: Endpoint[UserStream, Framebuffer] = Endpoint(
        key, "client", UserStream(), Framebuffer(), now, peer=SERVER_ADDR
    )

    def round_trip() -> None:
        nonlocal now
        stream = client.local_state.copy()
        stream.push_keystroke(b"x")
        client.set_local_state(stream, now)
        delivered = False
        for _ in range(200):  # step the clock until the keystroke is through
            now += 0.005
            for data, _ in client.datagrams_to_send(now):
                events = server.receive_datagram(data, CLIENT_ADDR, now)
                delivered |= any(isinstance(e, RemoteStateChanged) for e in events)
            if delivered:
                server.forget_consumed_remote()
                break
        else:
            raise RuntimeError("the keystroke never arrived")
        for _ in range(60):  # and the server's ack back, so states do not pile up
            now += 0.005
            out = server.datagrams_to_send(now)
            for data, _ in out:
                client.receive_datagram(data, SERVER_ADDR, now)
            if out:
                break

    return per_second(round_trip)


def _random_screen(rng: random.Random) -> Framebuffer:
    alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,-_/$#"
    return Framebuffer(
        width=80,
        height=24,
        rows=[
            Row(tuple(rng.choice(alphabet) for _ in range(80)), (DEFAULT_RENDITION,) * 80)
            for _ in range(24)
        ],
    )


def _line(text: str) -> Row:
    return Row(tuple(text.ljust(80)[:80]), (DEFAULT_RENDITION,) * 80)


def screen_diffs() -> list[tuple[str, bytes]]:
    rng = random.Random(2024)
    prompt = Framebuffer()
    prompt.rows[0] = _line("$ ")
    prompt.cursor_col = 2
    typed = prompt.copy()
    typed.rows[0] = _line("$ l")
    typed.cursor_col = 3

    blank = Framebuffer()
    full = _random_screen(rng)

    scrolled = full.copy()
    scrolled.rows = [*full.rows[1:], _line("$ make -j8 2>&1 | tee build.log")]
    scrolled.cursor_row, scrolled.cursor_col = 23, 31

    return [
        ("one typed character", typed.diff_from(prompt)),
        ("full repaint (random text)", full.diff_from(blank)),
        ("one-line scroll", scrolled.diff_from(full)),
    ]


def wire_bytes(diff: bytes) -> int:
    """Bytes of every datagram that carries `diff` as one instruction (without chaff)."""
    chunk_bytes = DEFAULT_DATAGRAM_BYTES - DATAGRAM_OVERHEAD
    fragments = Fragmenter().fragments(Instruction(7, 8, 5, 7, diff), chunk_bytes)
    fragment_header = 10
    return sum(len(f) - fragment_header + DATAGRAM_OVERHEAD for f in fragments)


def main() -> None:
    started = time.perf_counter()
    rates = [
        ("seal+open, 100-byte payload", seal_open_rate(100), "datagrams/s"),
        ("seal+open, 1200-byte payload", seal_open_rate(1200), "datagrams/s"),
        ("endpoint keystroke round trip", endpoint_round_trip_rate(), "round trips/s"),
    ]
    width = max(len(name) for name, _, _ in rates)
    print("SSP micro-benchmarks")
    print()
    print(f"{'throughput':<{width}}  {'rate':>12}")
    for name, rate, unit in rates:
        print(f"{name:<{width}}  {rate:>12,.0f}  {unit}")
    print()
    diffs = screen_diffs()
    width = max(len(name) for name, _ in diffs)
    print(
        f"{'80x24 screen change':<{width}}  {'diff bytes':>10}  {'zlib bytes':>10}"
        f"  {'on the wire':>11}"
    )
    for name, diff in diffs:
        print(
            f"{name:<{width}}  {len(diff):>10,}  {len(zlib.compress(diff)):>10,}"
            f"  {wire_bytes(diff):>11,}"
        )
    print()
    print("zlib bytes: the diff alone, compressed as the fragment layer does;")
    print("on the wire: whole datagrams (header, MAC, timestamps, instruction, no chaff).")
    print()
    print(f"(took {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()

"""The session's scrollback store (ssp.history) and its part of the screen state: limits,
evictions, the daemon-wide byte budget, and every line delivered exactly once, in order,
however the client's states are diffed, lost and reordered."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from mosh_client.history_writer import HistoryFeed, marker_row
from ssp.history import Delivered, History, HistoryBudget, text_row
from ssp.screen import DEFAULT_RENDITION, Framebuffer, Row, encode_line
from termemu.lines import Line


def line(text: str) -> Row:
    return Row(tuple(text), (DEFAULT_RENDITION,) * len(text))


def lazy(text: str, width: int = 10) -> Line:
    chars = list(text.ljust(width))
    return Line(chars, [DEFAULT_RENDITION] * width, None)


# --- the store -------------------------------------------------------------------------------
def test_numbers_limit_and_evictions() -> None:
    store = History(limit=10)
    for n in range(1, 31):
        store.append(line(f"l{n}"))
    assert (store.end, store.first, len(store)) == (30, 20, 10)
    dropped, rows = store.rows(15, 25)
    assert dropped == 5 and [r.text for r in rows] == [f"l{n}" for n in range(21, 26)]
    assert store.rows(0, 10) == (10, [])  # all evicted
    assert store.rows(25, 20) == (0, [])
    assert store.rows(28, 99) == (0, [line("l29"), line("l30")])  # past the end: to the end


def test_text_blocks_lazy_lines_and_skips_number_like_rows() -> None:
    store = History(limit=100)
    store.append(line("row"))
    store.add_text_block("a\r\nb \r\n\r\nc", 4)
    store.extend_lazy([lazy("lazy1"), lazy("lazy2  ")], 10)
    store.skip(3)
    assert store.end == 1 + 4 + 2 + 3 and store.first == store.end  # a skip evicts all before
    store.extend_text(["x", "y"], 10)
    store.append_lazy(lazy("z"))
    assert store.rows(10, store.end) == (0, [line("x"), line("y"), line("z")])


def test_reading_a_lazy_line_trims_it_and_gives_its_memory_back() -> None:
    store = History(limit=100)
    store.add_text_block("t1\nt2", 2)
    store.extend_lazy([lazy("abc", 80)], 80)
    before = store.bytes
    dropped, count, data = store.encoded(0, 3)
    assert (dropped, count) == (0, 3)
    assert data == encode_line(text_row("t1")) + encode_line(text_row("t2")) + encode_line(
        line("abc")
    )
    assert store.bytes < before
    assert store.encoded(0, 3) == (0, 3, data)  # the same again (from the wire cache)
    assert store.rows(0, 3) == (0, [line("t1"), line("t2"), line("abc")])


def test_a_zero_limit_keeps_nothing_but_counts() -> None:
    store = History(limit=0)
    store.append(line("a"))
    store.append_lazy(lazy("b"))
    store.add_text_block("c\nd", 2)
    assert (store.end, len(store), store.bytes) == (4, 0, 0)


def test_the_budget_trims_the_largest_history_first() -> None:
    budget = HistoryBudget(max_bytes=200_000)
    quiet, loud = History(limit=10_000, budget=budget), History(limit=10_000, budget=budget)
    for n in range(50):
        quiet.append(line(f"quiet {n}"))
    for n in range(20_000):
        loud.append_lazy(lazy(f"loud {n}", 80))
        assert budget.used <= budget.max_bytes
    assert len(quiet) == 50  # untouched: the loud one paid
    assert 0 < len(loud) < 10_000
    assert budget.used == quiet.bytes + loud.bytes
    loud.close()
    assert budget.used == quiet.bytes
    budget.leave(quiet)
    assert budget.used == 0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["row", "lazy", "block", "skip", "read"]), st.integers(1, 30)),
        max_size=40,
    ),
    st.integers(0, 50),
)
def test_the_store_agrees_with_a_plain_list(ops: list[tuple[str, int]], limit: int) -> None:
    store = History(limit=limit)
    model: list[str | None] = []  # every line ever, None if skipped
    for kind, n in ops:
        if kind == "row":
            model.append(f"r{len(model)}")
            store.append(line(model[-1]))  # type: ignore[arg-type]
        elif kind == "lazy":
            model.append(f"z{len(model)}")
            store.append_lazy(lazy(model[-1]))  # type: ignore[arg-type]
        elif kind == "block":
            texts = [f"b{len(model) + i}" for i in range(n)]
            model += texts
            store.add_text_block("\r\n".join(texts), n)
        elif kind == "skip":
            model += [None] * n
            store.skip(n)
        else:
            store.encoded(max(0, len(model) - n), len(model))  # compacts what it reads
        assert store.end == len(model)
        assert store.end - limit - 64 <= store.first <= store.end
        dropped, rows = store.rows(0, store.end)
        assert dropped == store.first
        assert [r.text for r in rows] == model[store.first :]


# --- the screen state: exactly once, in order ----------------------------------------------
def test_delivered_lines_answer_by_number() -> None:
    got = Delivered(end=10, dropped=2, lines=[line("9"), line("10")])
    assert got.start == 6
    assert got.rows(0, 10) == (2, [line("9"), line("10")])  # before 6: not ours to tell
    assert got.rows(7, 10) == (1, [line("9"), line("10")])
    assert got.rows(9, 12) == (0, [line("10")])


def _server_states(count: int, seed: int, limit: int) -> tuple[History, list[Framebuffer]]:
    """Screen states whose history end grows irregularly, as a session releases lines."""
    rng = random.Random(seed)
    store = History(limit=limit)
    states = [Framebuffer()]
    for _ in range(count):
        for _ in range(rng.choice([0, 0, 1, 3, 20])):
            store.append(line(f"line {store.end + 1}"))
        state = states[-1].copy()
        state.history = store
        state.history_end = store.end
        state.cursor_col = rng.randrange(80)  # something else changes too
        states.append(state)
    return store, states


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([10_000, 15]))
def test_lines_arrive_exactly_once_in_order_whatever_the_deliveries(seed: int, limit: int) -> None:
    """Deliveries of random states diffed from random older bases the client has, out of
    order and with gaps (loss), as the transport does: the client's feed writes each line
    once, in order, and a marker for exactly those the server no longer had."""
    rng = random.Random(seed)
    # The server diffs lazily (at send time); with a small limit, lines evicted between the
    # states' creation and their diff are what the markers are for.
    _store, states = _server_states(40, seed, limit)
    received = {0: Framebuffer()}
    newest = 0
    feed = HistoryFeed()
    written: list[Row] = []
    for _ in range(80):
        target = rng.randrange(1, len(states))
        if target in received:
            continue
        base = rng.choice(sorted(received))
        if base > target:
            continue  # the server only diffs from states the peer acknowledged or may have
        state = received[base].copy()
        state.apply(states[target].diff_from(states[base]))
        received[target] = state
        if target > newest:  # RemoteStateChanged: the newest state
            newest = target
            feed.take(state)
            written += feed.drain()
    expected_end = states[newest].history_end
    assert feed.written == expected_end
    texts = [row.text for row in written]
    numbers: list[int] = []
    for text in texts:
        if text.startswith("[moshd:"):
            numbers += [-1] * int(text.split()[1])  # placeholders for dropped lines
        else:
            numbers.append(int(text.split()[1]))
    assert len(numbers) == expected_end  # every line once, as itself or in a marker
    kept = [n for n in numbers if n > 0]
    assert kept == sorted(set(kept))
    assert all(n == i + 1 for i, n in enumerate(numbers) if n > 0)  # in its place
    if limit >= 10_000:
        assert -1 not in numbers


def test_a_reattached_client_gets_recent_lines_without_a_marker() -> None:
    """A new attachment's state 0 on the server counts from a floor (moshd.session): the
    client, starting at 0, gets the lines after it and no marker for those before."""
    store = History()
    for n in range(1, 5001):
        store.append(line(f"line {n}"))
    server_zero = Framebuffer(history_end=4000)
    first = Framebuffer(history_end=5000)
    first.history = store
    client = Framebuffer()
    client.apply(first.diff_from(server_zero))
    feed = HistoryFeed()
    feed.take(client)
    rows = feed.drain()
    assert [r.text for r in rows] == [f"line {n}" for n in range(4001, 5001)]


def test_the_marker_says_how_many() -> None:
    assert marker_row(1234).text == "[moshd: 1234 lines of scrollback dropped]"
    assert marker_row(1).text == "[moshd: 1 line of scrollback dropped]"

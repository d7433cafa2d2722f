"""The port grammar shared by the wrapper, the client and the server: `PORT[:PORT2]`."""

from __future__ import annotations

import pytest

from ssp.ports import MAX_PORT, port_number, split_port_range


def test_max_port() -> None:
    assert MAX_PORT == 65535


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("60001", 60001),
        ("0070", 70),
        ("70000", 70000),
        ("", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1.0", None),
        ("\u0663", None),  # an Arabic-Indic digit
        ("\uff11", None),  # a full-width digit
    ],
)
def test_port_number_takes_ascii_digits_only(text: str, expected: int | None) -> None:
    assert port_number(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60001", (60001, None)),
        ("0", (0, None)),
        ("60000:61000", (60000, 61000)),
        ("9:3", (9, 3)),  # the grammar only: ranges are the callers' business
        ("1:70000", (1, 70000)),
        ("", None),
        (":1", None),
        ("1:", None),
        ("1:2:3", None),
        ("a", None),
        ("1-2", None),
        ("\u0663", None),
    ],
)
def test_split_port_range(text: str, expected: tuple[int, int | None] | None) -> None:
    assert split_port_range(text) == expected

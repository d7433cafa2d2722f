"""moshd.ports: the port range grammar."""

from __future__ import annotations

import pytest

from moshd.ports import PortRange, PortSpecError, parse_port_spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60001", PortRange(60001, 60001)),
        ("1", PortRange(1, 1)),
        ("65535", PortRange(65535, 65535)),
        ("60000:61000", PortRange(60000, 61000)),
        ("7000:7000", PortRange(7000, 7000)),
    ],
)
def test_port_specs(text: str, expected: PortRange) -> None:
    assert parse_port_spec(text) == expected
    assert str(expected) == (text if ":" not in text or expected.low != expected.high else "7000")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0:9", "0 is outside 1..65535"),
        ("65536", "65536 is outside 1..65535"),
        ("61000:60000", "61000 is greater than 60000"),
        ("abc", "'abc' is not a number"),
        ("", "'' is not a number"),
        ("60001:", "'' is not a number"),
        (":60001", "'' is not a number"),
        ("-5", "'-5' is not a number"),
        ("1:2:3", "'2:3' is not a number"),
        ("\uff16\uff10\uff10\uff11", "is not a number"),  # full-width digits: isdigit()
    ],
)
def test_bad_port_specs(text: str, message: str) -> None:
    with pytest.raises(PortSpecError) as caught:
        parse_port_spec(text)
    assert message in str(caught.value)


def test_port_zero_lets_the_system_choose() -> None:
    assert parse_port_spec("0") == PortRange(0, 0)

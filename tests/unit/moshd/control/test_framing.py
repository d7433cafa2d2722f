"""moshd.control.framing: bytes in, complete lines out, within the length limit."""

from __future__ import annotations

import pytest

from moshd.control.errors import ProtocolError
from moshd.control.framing import LineFramer


def test_lines_come_out_whole_however_the_bytes_arrive() -> None:
    framer = LineFramer(100, "request")
    assert framer.next_line() is None
    framer.feed(b'{"op":')
    assert framer.next_line() is None
    framer.feed(b'"list"}\n{"op":"status"}\npartial')
    assert framer.next_line() == b'{"op":"list"}'
    assert framer.next_line() == b'{"op":"status"}'
    assert framer.next_line() is None
    assert framer.take_tail() == b"partial"
    assert framer.take_tail() == b""


def test_a_line_at_the_limit_passes() -> None:
    framer = LineFramer(10, "request")
    framer.feed(b"x" * 10 + b"\n")
    assert framer.next_line() == b"x" * 10


@pytest.mark.parametrize("data", [b"x" * 11 + b"\n", b"x" * 11], ids=["terminated", "unfinished"])
def test_a_line_beyond_the_limit_is_a_protocol_error(data: bytes) -> None:
    framer = LineFramer(10, "reply")
    framer.feed(data)
    with pytest.raises(ProtocolError, match="reply longer than 10 bytes"):
        framer.next_line()

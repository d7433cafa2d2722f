"""Byte-level building blocks shared by the state codecs: varints and length-prefixed strings.

Decoding errors raise `DecodeError`; callers in the receive path turn that into a dropped
instruction, never into a crash.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """The bytes are not a well-formed encoding."""


def put_varint(out: bytearray, value: int) -> None:
    """Append an unsigned LEB128 varint."""
    if value < 0:
        raise ValueError("varints are unsigned")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def put_bytes(out: bytearray, data: bytes) -> None:
    put_varint(out, len(data))
    out += data


def put_str(out: bytearray, text: str) -> None:
    put_bytes(out, text.encode("utf-8", "surrogatepass"))


class Reader:
    """A cursor over bytes being decoded."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise DecodeError("truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        result = 0
        shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise DecodeError("varint too long")

    def take(self, length: int) -> bytes:
        end = self.pos + length
        if end > len(self.data):
            raise DecodeError("truncated")
        chunk = self.data[self.pos : end]
        self.pos = end
        return bytes(chunk)

    def bytes_(self) -> bytes:
        return self.take(self.varint())

    def str_(self) -> str:
        try:
            return self.bytes_().decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as exc:
            raise DecodeError("bad utf-8") from exc

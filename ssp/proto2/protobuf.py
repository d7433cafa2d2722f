"""The few pieces of the protobuf (proto2) wire format that protocol 2's messages use.

Hand-written rather than the `protobuf` runtime: the three message types (transport
instruction, user message, host message) need varints and length-delimited fields, about a
screenful of code, where the runtime is a dependency of its own with generated modules to keep
in step, and costs tens of milliseconds to import in every client and daemon start. Decoding
is written for hostile input: any byte string either decodes or raises `DecodeError` (a
ValueError), never anything else, and its cost stays linear in the input's length.

What is covered: wire types varint (0), 64-bit (1), length-delimited (2) and 32-bit (5);
unknown fields of those types are skipped, as protobuf does. Groups (3, 4) are deprecated and
absent from mosh's messages: they are refused.
"""

from __future__ import annotations

from collections.abc import Iterator

from ssp.codec import DecodeError, Reader, put_varint

VARINT = 0
FIXED64 = 1
LEN = 2
FIXED32 = 5

_U64_MASK = (1 << 64) - 1
_MAX_VARINT_BYTES = 10  # 64 bits in 7-bit groups
_MAX_FIELD_NUMBER = (1 << 29) - 1

Value = int | bytes


def iter_fields(data: bytes) -> Iterator[tuple[int, int, Value]]:
    """Each field of a message, in order: (field number, wire type, value). The value is an
    int for numeric wire types (a varint as the unsigned 64 bits it encodes) and bytes for
    length-delimited ones. Raises `DecodeError` on malformed input."""
    reader = Reader(data)
    while not reader.at_end():
        tag = _varint(reader)
        number, wire_type = tag >> 3, tag & 7
        if not 1 <= number <= _MAX_FIELD_NUMBER:
            raise DecodeError(f"bad field number {number}")
        value: Value
        if wire_type == VARINT:
            value = _varint(reader)
        elif wire_type == LEN:
            value = reader.take(_varint(reader))
        elif wire_type == FIXED64:
            value = int.from_bytes(reader.take(8), "little")
        elif wire_type == FIXED32:
            value = int.from_bytes(reader.take(4), "little")
        else:
            raise DecodeError(f"unsupported wire type {wire_type}")
        yield number, wire_type, value


def _varint(reader: Reader) -> int:
    value = 0
    for index in range(_MAX_VARINT_BYTES):
        byte = reader.byte()
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value & _U64_MASK  # bits beyond 64 are dropped, as protobuf does
    raise DecodeError("varint longer than 10 bytes")


def as_int32(value: int) -> int:
    """A decoded int32 varint: protobuf sign-extends negatives to 64 bits and truncates."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


# --- encoding -------------------------------------------------------------------------------
def put_tag(out: bytearray, number: int, wire_type: int) -> None:
    put_varint(out, number << 3 | wire_type)


def put_uint_field(out: bytearray, number: int, value: int) -> None:
    """A uint32/uint64 field."""
    if not 0 <= value <= _U64_MASK:
        raise ValueError(f"{value} is not a uint64")
    put_tag(out, number, VARINT)
    put_varint(out, value)


def put_int32_field(out: bytearray, number: int, value: int) -> None:
    """An int32 field: negatives take ten bytes, sign-extended to 64 bits."""
    if not -(1 << 31) <= value < 1 << 31:
        raise ValueError(f"{value} is not an int32")
    put_tag(out, number, VARINT)
    put_varint(out, value & _U64_MASK)


def put_bytes_field(out: bytearray, number: int, data: bytes) -> None:
    """A bytes field, or an embedded message already encoded."""
    put_tag(out, number, LEN)
    put_varint(out, len(data))
    out += data

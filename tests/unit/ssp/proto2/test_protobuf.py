"""The hand-written protobuf wire codec: known encodings, unknown fields, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssp.codec import DecodeError
from ssp.proto2.protobuf import (
    FIXED32,
    FIXED64,
    LEN,
    VARINT,
    as_int32,
    iter_fields,
    put_bytes_field,
    put_int32_field,
    put_uint_field,
)

U64 = st.integers(0, (1 << 64) - 1)
INT32 = st.integers(-(1 << 31), (1 << 31) - 1)
FIELD = st.integers(1, (1 << 29) - 1)


def test_known_encodings() -> None:
    out = bytearray()
    put_uint_field(out, 1, 150)
    put_bytes_field(out, 2, b"testing")
    assert out.hex() == "089601" + "120774657374696e67"  # the protobuf documentation's own
    out = bytearray()
    put_int32_field(out, 5, -1)
    assert out.hex() == "28" + "ff" * 9 + "01"  # negative int32: sign-extended, ten bytes
    assert list(iter_fields(bytes(out))) == [(5, VARINT, (1 << 64) - 1)]
    assert as_int32((1 << 64) - 1) == -1


@given(st.lists(st.tuples(FIELD, st.one_of(U64, st.binary(max_size=40))), max_size=20))
def test_fields_round_trip_in_order(fields: list[tuple[int, int | bytes]]) -> None:
    out = bytearray()
    for number, value in fields:
        if isinstance(value, int):
            put_uint_field(out, number, value)
        else:
            put_bytes_field(out, number, value)
    decoded = [(n, v) for n, _, v in iter_fields(bytes(out))]
    assert decoded == fields


@given(INT32)
def test_int32_round_trip(value: int) -> None:
    out = bytearray()
    put_int32_field(out, 6, value)
    ((_, _, raw),) = iter_fields(bytes(out))
    assert isinstance(raw, int) and as_int32(raw) == value


def test_fixed_width_fields_are_read_and_groups_refused() -> None:
    data = bytes([1 << 3 | FIXED64]) + bytes(range(8)) + bytes([2 << 3 | FIXED32]) + b"\1\0\0\0"
    assert list(iter_fields(data)) == [
        (1, FIXED64, int.from_bytes(bytes(range(8)), "little")),
        (2, FIXED32, 1),
    ]
    for group in (3, 4):
        with pytest.raises(DecodeError):
            list(iter_fields(bytes([1 << 3 | group])))


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a",  # LEN field without its length
        b"\x0a\x05abc",  # length beyond the end
        b"\x08",  # varint missing
        b"\x08\x80",  # varint cut short
        b"\x08" + b"\xff" * 10 + b"\x01",  # varint of 11 bytes
        b"\x00\x00",  # field number 0
        b"\x09\x00",  # fixed64 cut short
        b"\x80",  # tag cut short
    ],
)
def test_malformed_input_raises_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        list(iter_fields(data))


@given(st.binary(max_size=300))
def test_hostile_input_raises_nothing_but_decode_error(data: bytes) -> None:
    try:
        for _number, wire_type, value in iter_fields(data):
            assert wire_type in (VARINT, FIXED64, LEN, FIXED32)
            if wire_type == LEN:
                assert isinstance(value, bytes)
            else:
                assert isinstance(value, int) and 0 <= value < 1 << 64
    except DecodeError:
        pass


def test_encoders_refuse_values_out_of_range() -> None:
    for put, value in [(put_uint_field, -1), (put_uint_field, 1 << 64), (put_int32_field, 1 << 31)]:
        with pytest.raises(ValueError):
            put(bytearray(), 1, value)

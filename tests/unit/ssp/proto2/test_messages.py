"""Protocol 2's messages: upstream's exact bytes, round trips, upstream's reading of odd
messages, and hostile input."""

from __future__ import annotations

import contextlib
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssp.codec import DecodeError
from ssp.datagram import Instruction
from ssp.proto2.messages import (
    PROTOCOL_VERSION,
    EchoAck,
    HostBytes,
    HostItem,
    Keys,
    UserItem,
    WindowSize,
    decode_host_message,
    decode_transport_instruction,
    decode_user_message,
    encode_host_frame,
    encode_host_message,
    encode_transport_instruction,
    encode_user_message,
)
from ssp.proto2.protobuf import put_bytes_field, put_uint_field

U64 = st.integers(0, (1 << 64) - 1)
INT32 = st.integers(-(1 << 31), (1 << 31) - 1)
SIZES = st.builds(WindowSize, INT32, INT32)
USER_ITEMS = st.lists(st.one_of(st.builds(Keys, st.binary(max_size=30)), SIZES), max_size=10)
HOST_ITEMS = st.lists(
    st.one_of(st.builds(HostBytes, st.binary(max_size=30)), SIZES, st.builds(EchoAck, U64)),
    max_size=10,
)


# --- exact bytes (checked against mosh 1.4) -------------------------------------------------
def test_keystroke_a_is_upstreams_bytes() -> None:
    assert encode_user_message([Keys(b"a")]) == bytes.fromhex("0a 05 12 03 22 01 61")
    assert decode_user_message(bytes.fromhex("0a 05 12 03 22 01 61")) == [Keys(b"a")]


def test_resize_80x24_is_upstreams_bytes() -> None:
    data = bytes.fromhex("0a 06 1a 04 28 50 30 18")
    assert encode_user_message([WindowSize(80, 24)]) == data
    assert decode_user_message(data) == [WindowSize(80, 24)]


def test_host_message_bytes() -> None:
    # hostbytes = 2 {hoststring = 4}, resize = 3 {5, 6}, echoack = 7 {echo_ack_num = 8}
    assert encode_host_message([HostBytes(b"hi")]) == bytes.fromhex("0a 06 12 04 22 02 68 69")
    assert encode_host_message([EchoAck(300)]) == bytes.fromhex("0a 05 3a 03 40 ac 02")
    assert encode_host_message([WindowSize(80, 24)]) == bytes.fromhex("0a 06 1a 04 28 50 30 18")


def test_transport_instruction_bytes() -> None:
    inst = Instruction(old_num=1, new_num=2, ack_num=3, throwaway_num=0, diff=b"d", chaff=b"")
    assert encode_transport_instruction(inst) == bytes.fromhex(
        "08 02 10 01 18 02 20 03 28 00 32 01 64 3a 00"
    )


def test_host_frame_is_echo_ack_then_resize_then_escape_sequences() -> None:
    frame = decode_host_message(encode_host_frame(7, (100, 30), b"\x1b[H"))
    assert frame == [EchoAck(7), WindowSize(100, 30), HostBytes(b"\x1b[H")]
    assert decode_host_message(encode_host_frame(None, None, b"x")) == [HostBytes(b"x")]
    assert encode_host_frame(None, None, b"") == b""


# --- round trips ----------------------------------------------------------------------------
@given(U64, U64, U64, U64, st.binary(max_size=100), st.binary(max_size=16))
def test_transport_instruction_round_trip(
    old: int, new: int, ack: int, throwaway: int, diff: bytes, chaff: bytes
) -> None:
    inst = Instruction(old, new, ack, throwaway, diff, chaff)
    decoded = decode_transport_instruction(encode_transport_instruction(inst))
    assert decoded == Instruction(old, new, ack, throwaway, diff, chaff, PROTOCOL_VERSION)


@given(USER_ITEMS)
def test_user_message_round_trip(items: list[UserItem]) -> None:
    assert decode_user_message(encode_user_message(items)) == items


@given(HOST_ITEMS)
def test_host_message_round_trip(items: list[HostItem]) -> None:
    assert decode_host_message(encode_host_message(items)) == items


# --- upstream's reading of odd messages -----------------------------------------------------
def test_absent_fields_read_as_zero_and_unknown_fields_are_skipped() -> None:
    out = bytearray()
    put_uint_field(out, 3, 9)  # new_num only
    put_bytes_field(out, 15, b"future field")
    put_uint_field(out, 6, 1)  # diff with the wrong wire type: unknown too, as in protobuf
    inst = decode_transport_instruction(bytes(out))
    assert inst == Instruction(0, 9, 0, 0, b"", b"", version=0)


def test_an_instruction_with_several_extensions_reads_as_upstream_reads_it() -> None:
    inst = bytes.fromhex("1a 04 28 50 30 18") + bytes.fromhex("12 03 22 01 61")
    user = bytearray()
    put_bytes_field(user, 1, inst)
    assert decode_user_message(bytes(user)) == [Keys(b"a")]  # the keystroke wins
    host_inst = bytes.fromhex("3a 02 40 05") + bytes.fromhex("1a 04 28 50 30 18")
    host = bytearray()
    put_bytes_field(host, 1, host_inst)
    put_bytes_field(host, 1, b"")  # an instruction with no extension: skipped
    put_bytes_field(host, 1, bytes.fromhex("52 00"))  # an unknown extension: skipped
    assert decode_host_message(bytes(host)) == [WindowSize(80, 24)]  # resize before echo ack


def test_an_extension_given_twice_is_merged() -> None:
    # Resize {width 80} then Resize {height 24} in one instruction: protobuf merges them.
    inst = bytes.fromhex("1a 02 28 50") + bytes.fromhex("1a 02 30 18")
    user = bytearray()
    put_bytes_field(user, 1, inst)
    assert decode_user_message(bytes(user)) == [WindowSize(80, 24)]


# --- hostile input --------------------------------------------------------------------------
@given(st.binary(max_size=200))
def test_hostile_bytes_raise_nothing_but_decode_error(data: bytes) -> None:
    for decode in (decode_transport_instruction, decode_user_message, decode_host_message):
        with contextlib.suppress(DecodeError):
            decode(data)


@given(USER_ITEMS, st.data())
def test_truncated_messages_raise_nothing_but_decode_error(
    items: list[UserItem], data: st.DataObject
) -> None:
    encoded = encode_user_message(items)
    cut = data.draw(st.integers(0, len(encoded)))
    with contextlib.suppress(DecodeError):
        decode_user_message(encoded[:cut])


def test_many_repeated_extensions_decode_in_linear_time() -> None:
    # A megabyte-sized instruction of tiny keystroke fragments must not take quadratic time.
    inst = bytes.fromhex("12 02 22 00") * 300_000
    user = bytearray()
    put_bytes_field(user, 1, inst)
    assert len(zlib.compress(bytes(user))) < 50_000  # what an attacker would send
    assert decode_user_message(bytes(user)) == [Keys(b"")]


def test_decode_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        decode_host_message(b"\x0a\x10")

"""Protocol 2's three protobuf messages, encoded and decoded by hand (see `protobuf`).

    TransportBuffers.Instruction  the SSP instruction inside every (zlib-compressed) fragment
    ClientBuffers.UserMessage     client → server diffs: keystrokes and window resizes
    HostBuffers.HostMessage       server → client diffs: echo ack, resize, escape sequences

UserMessage and HostMessage are lists of `Instruction`s, each carrying one extension. A decoded
instruction with several is read as upstream reads it (the first kind in upstream's order
wins); one with none is skipped. Decoding raises only `DecodeError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ssp.codec import DecodeError
from ssp.datagram import Instruction
from ssp.proto2.protobuf import (
    LEN,
    VARINT,
    as_int32,
    iter_fields,
    put_bytes_field,
    put_int32_field,
    put_uint_field,
)

PROTOCOL_VERSION = 2  # TransportInstruction.protocol_version that mosh 1.x requires

# TransportBuffers.Instruction
_VERSION, _OLD_NUM, _NEW_NUM, _ACK_NUM, _THROWAWAY_NUM, _DIFF, _CHAFF = range(1, 8)
# UserMessage / HostMessage: `repeated Instruction instruction = 1`
_INSTRUCTION = 1
# Extensions of ClientBuffers.Instruction and HostBuffers.Instruction, and their fields
_KEYSTROKE = _HOSTBYTES = 2  # Keystroke.keys = 4, HostBytes.hoststring = 4
_RESIZE = 3  # ResizeMessage.width = 5, .height = 6 (int32)
_ECHOACK = 7  # EchoAck.echo_ack_num = 8 (uint64)
_KEYS = _HOSTSTRING = 4
_WIDTH, _HEIGHT = 5, 6
_ECHO_ACK_NUM = 8


@dataclass(frozen=True, slots=True)
class Keys:
    """Keystroke: bytes the user typed."""

    keys: bytes


@dataclass(frozen=True, slots=True)
class WindowSize:
    """ResizeMessage: the client's window (client → server) or the screen's (server →
    client). Any int32, as on the wire: judging a size is the application's business."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class HostBytes:
    """Escape sequences that take the client's copy of the screen to the new state."""

    hoststring: bytes


@dataclass(frozen=True, slots=True)
class EchoAck:
    """The newest user-stream state whose keystrokes the server has had time to echo."""

    echo_ack_num: int


UserItem = Keys | WindowSize
HostItem = HostBytes | WindowSize | EchoAck


# --- TransportBuffers.Instruction -----------------------------------------------------------
def encode_transport_instruction(inst: Instruction) -> bytes:
    """All fields, in field order, as upstream writes them. The version written is always
    `PROTOCOL_VERSION`: `inst.version` is what a decoded instruction said."""
    out = bytearray()
    put_uint_field(out, _VERSION, PROTOCOL_VERSION)
    put_uint_field(out, _OLD_NUM, inst.old_num)
    put_uint_field(out, _NEW_NUM, inst.new_num)
    put_uint_field(out, _ACK_NUM, inst.ack_num)
    put_uint_field(out, _THROWAWAY_NUM, inst.throwaway_num)
    put_bytes_field(out, _DIFF, inst.diff)
    put_bytes_field(out, _CHAFF, inst.chaff)
    return bytes(out)


def decode_transport_instruction(data: bytes) -> Instruction:
    """Absent fields read as 0 or empty (so an instruction without a version is refused by
    the endpoint); repeated scalars, the last wins. Raises `DecodeError`."""
    nums = {_VERSION: 0, _OLD_NUM: 0, _NEW_NUM: 0, _ACK_NUM: 0, _THROWAWAY_NUM: 0}
    blobs = {_DIFF: b"", _CHAFF: b""}
    for number, wire_type, value in iter_fields(data):
        if number in nums and wire_type == VARINT:
            assert isinstance(value, int)
            nums[number] = value
        elif number in blobs and wire_type == LEN:
            assert isinstance(value, bytes)
            blobs[number] = value
        # Anything else is an unknown field (or a known one of the wrong type, which
        # protobuf also treats as unknown): skipped.
    return Instruction(
        old_num=nums[_OLD_NUM],
        new_num=nums[_NEW_NUM],
        ack_num=nums[_ACK_NUM],
        throwaway_num=nums[_THROWAWAY_NUM],
        diff=blobs[_DIFF],
        chaff=blobs[_CHAFF],
        version=nums[_VERSION] & 0xFFFFFFFF,  # a uint32: protobuf truncates
    )


# --- UserMessage and HostMessage ------------------------------------------------------------
def encode_user_message(items: Iterable[UserItem]) -> bytes:
    """One Instruction per item, in order."""
    out = bytearray()
    for item in items:
        inst = bytearray()
        if isinstance(item, Keys):
            put_bytes_field(inst, _KEYSTROKE, _one_bytes_field(_KEYS, item.keys))
        else:
            put_bytes_field(inst, _RESIZE, _window_size(item))
        put_bytes_field(out, _INSTRUCTION, bytes(inst))
    return bytes(out)


def decode_user_message(data: bytes) -> list[UserItem]:
    items: list[UserItem] = []
    for extensions in _instructions(data):
        if _KEYSTROKE in extensions:
            items.append(Keys(_last_bytes(extensions[_KEYSTROKE], _KEYS)))
        elif _RESIZE in extensions:
            items.append(_decode_window_size(extensions[_RESIZE]))
    return items


def encode_host_message(items: Iterable[HostItem]) -> bytes:
    """One Instruction per item, in order."""
    out = bytearray()
    for item in items:
        inst = bytearray()
        if isinstance(item, HostBytes):
            put_bytes_field(inst, _HOSTBYTES, _one_bytes_field(_HOSTSTRING, item.hoststring))
        elif isinstance(item, WindowSize):
            put_bytes_field(inst, _RESIZE, _window_size(item))
        else:
            echo = bytearray()
            put_uint_field(echo, _ECHO_ACK_NUM, item.echo_ack_num)
            put_bytes_field(inst, _ECHOACK, bytes(echo))
        put_bytes_field(out, _INSTRUCTION, bytes(inst))
    return bytes(out)


def decode_host_message(data: bytes) -> list[HostItem]:
    items: list[HostItem] = []
    for extensions in _instructions(data):
        if _HOSTBYTES in extensions:
            items.append(HostBytes(_last_bytes(extensions[_HOSTBYTES], _HOSTSTRING)))
        elif _RESIZE in extensions:
            items.append(_decode_window_size(extensions[_RESIZE]))
        elif _ECHOACK in extensions:
            items.append(EchoAck(_last_uint(extensions[_ECHOACK], _ECHO_ACK_NUM)))
    return items


def encode_host_frame(
    echo_ack: int | None, size: tuple[int, int] | None, hoststring: bytes
) -> bytes:
    """A server's diff from one screen state to the next, as upstream composes it: the new
    echo ack if it changed (None: unchanged), the new (width, height) if the size changed,
    then the escape sequences turning the old screen into the new, if any."""
    items: list[HostItem] = []
    if echo_ack is not None:
        items.append(EchoAck(echo_ack))
    if size is not None:
        items.append(WindowSize(*size))
    if hoststring:
        items.append(HostBytes(hoststring))
    return encode_host_message(items)


# --- helpers --------------------------------------------------------------------------------
def _instructions(data: bytes) -> list[dict[int, bytes]]:
    """Each Instruction of a UserMessage/HostMessage as {extension number: its message}.
    An embedded message given twice is the concatenation of both: protobuf merges them so,
    and parsing the concatenation is exactly that merge."""
    instructions: list[dict[int, bytes]] = []
    for number, wire_type, value in iter_fields(data):
        if number != _INSTRUCTION or wire_type != LEN:
            continue
        assert isinstance(value, bytes)
        parts: dict[int, list[bytes]] = {}
        for ext, ext_type, ext_value in iter_fields(value):
            if ext_type == LEN:
                assert isinstance(ext_value, bytes)
                parts.setdefault(ext, []).append(ext_value)  # joined once: linear
        instructions.append({ext: b"".join(chunks) for ext, chunks in parts.items()})
    return instructions


def _last_bytes(message: bytes, number: int) -> bytes:
    found = b""
    for field, wire_type, value in iter_fields(message):
        if field == number and wire_type == LEN:
            assert isinstance(value, bytes)
            found = value
    return found


def _last_uint(message: bytes, number: int) -> int:
    found = 0
    for field, wire_type, value in iter_fields(message):
        if field == number and wire_type == VARINT:
            assert isinstance(value, int)
            found = value
    return found


def _decode_window_size(message: bytes) -> WindowSize:
    return WindowSize(as_int32(_last_uint(message, _WIDTH)), as_int32(_last_uint(message, _HEIGHT)))


def _one_bytes_field(number: int, data: bytes) -> bytes:
    out = bytearray()
    put_bytes_field(out, number, data)
    return bytes(out)


def _window_size(size: WindowSize) -> bytes:
    out = bytearray()
    put_int32_field(out, _WIDTH, size.width)
    put_int32_field(out, _HEIGHT, size.height)
    return bytes(out)


__all__ = [
    "PROTOCOL_VERSION",
    "DecodeError",
    "EchoAck",
    "HostBytes",
    "HostItem",
    "Keys",
    "UserItem",
    "WindowSize",
    "decode_host_message",
    "decode_transport_instruction",
    "decode_user_message",
    "encode_host_frame",
    "encode_host_message",
    "encode_transport_instruction",
    "encode_user_message",
]

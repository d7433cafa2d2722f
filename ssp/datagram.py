"""The wire format: clear header, sealed body, timestamps, fragments and instructions.

Datagram = header (24 bytes, clear) + sealed body.
  header      connection id (u64) | epoch (u64) | direction << 63 | seq (u64), big-endian
  body        timestamp (u16) | timestamp reply (u16) | fragment
  fragment    instruction id (u64) | final bit << 15 | fragment number (u16) | chunk
An instruction is zlib-compressed and cut into MTU-sized chunks:
  instruction version (u8) | old_num | new_num | ack_num | throwaway_num (u64 each)
              | chaff length (u8) | chaff | diff

The header is the body's 24-byte nonce (see ssp.crypto), so it must never repeat under a key.
`seq` restarts at 0 when a client is run again with the same key: the epoch, 64 random bits
that each endpoint draws when it starts, keeps that run from sealing new plaintexts under nonces
already used. It travels in the clear so that the receiver can rebuild the nonce, and the
receiver keeps one sequence space (replay window, newest sequence number) per epoch of its peer.
8 bytes is the smallest sound change: the connection id routes datagrams before any crypto,
`seq` must not wrap, and a shorter random epoch makes a repeated nonce likelier with each
restart. Earlier versions had a 16-byte header with zeros in the epoch's place of the nonce;
the two formats do not interoperate.

The connection id's top bit is always set (`ssp.key.Key.connection_id`). A stock mosh client's
datagram (protocol 2, `ssp.proto2`) starts with its 8-byte nonce tail, `direction << 63 | seq`,
whose top bit is clear in every datagram sent to a server. So `looks_native` tells the two
protocols apart at a server's port from one bit, and a native datagram never costs a trial
decryption under the keys of stock sessions. This changed the native wire (ids without that bit
are no longer sent): restart moshd after upgrading, since old clients' ids no longer route.

The instruction codec and the decompression bound are parameters of `Fragmenter` and
`FragmentAssembly`: protocol 2 cuts and joins fragments the same way but encodes instructions
as protobuf (`ssp.proto2.messages`).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from ssp.crypto import MAC_BYTES, Cipher
from ssp.key import NATIVE_ID_BIT

TO_SERVER = 0
TO_CLIENT = 1
DIRECTION_BIT = 1 << 63
SEQ_MASK = DIRECTION_BIT - 1
EPOCH_MASK = (1 << 64) - 1
EPOCH_BYTES = 8

NO_TIMESTAMP = 0xFFFF
PROTOCOL_VERSION = 1
SHUTDOWN_NUM = (1 << 64) - 1  # new_num meaning "I am shutting down"

_HEADER = struct.Struct("!QQQ")
_TIMESTAMPS = struct.Struct("!HH")
_FRAGMENT_HEADER = struct.Struct("!QH")
_INSTRUCTION_HEAD = struct.Struct("!BQQQQB")
_FINAL_BIT = 0x8000

HEADER_BYTES = _HEADER.size
# Bytes around a fragment's chunk: header, MAC, timestamps, fragment header.
DATAGRAM_OVERHEAD = HEADER_BYTES + MAC_BYTES + _TIMESTAMPS.size + _FRAGMENT_HEADER.size
# 1280 (the IPv6 minimum MTU) less IPv6 and UDP headers: fits every path without fragmentation.
DEFAULT_DATAGRAM_BYTES = 1280 - 40 - 8
MAX_INSTRUCTION_BYTES = 64 * 1024 * 1024  # decompressed; bounds a hostile zlib bomb
MAX_FRAGMENTS = 1 << 15


class DatagramError(ValueError):
    """A datagram, fragment or instruction is malformed."""


# --- timestamps -----------------------------------------------------------------------------
def timestamp16(now: float) -> int:
    """Low 16 bits of a millisecond clock, never the "none" value."""
    stamp = int(now * 1000) & 0xFFFF
    return 0 if stamp == NO_TIMESTAMP else stamp


def timestamp_diff(newer: int, older: int) -> int:
    """Milliseconds from `older` to `newer`, modulo 2^16."""
    return (newer - older) & 0xFFFF


# --- datagrams ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Packet:
    connection_id: int
    direction: int
    seq: int
    timestamp: int
    timestamp_reply: int
    payload: bytes
    # The sender's nonce epoch. Endpoints always draw a random one; 0 only for hand-made tests.
    epoch: int = 0


def peek_connection_id(data: bytes) -> int | None:
    """The connection id of a datagram, for routing before any crypto; None if too short."""
    if len(data) < HEADER_BYTES + MAC_BYTES + _TIMESTAMPS.size:
        return None
    return int.from_bytes(data[:8], "big")


def looks_native(data: bytes) -> bool:
    """Whether a datagram arriving at a server is of the native protocol rather than a stock
    client's protocol 2: the top bit of its first 8 bytes is set. Free of crypto; a datagram
    that merely looks native still has to authenticate. (Datagrams to a client carry the
    direction bit in protocol 2 too: this is for a server's port only.)"""
    return len(data) >= 8 and bool(data[0] << 56 & NATIVE_ID_BIT)  # big-endian: byte 0 on top


def seal_packet(cipher: Cipher, packet: Packet) -> bytes:
    if not 0 <= packet.seq <= SEQ_MASK:
        raise ValueError("sequence number out of range")
    if not 0 <= packet.epoch <= EPOCH_MASK:
        raise ValueError("epoch out of range")
    header = _HEADER.pack(packet.connection_id, packet.epoch, (packet.direction << 63) | packet.seq)
    body = _TIMESTAMPS.pack(packet.timestamp, packet.timestamp_reply) + packet.payload
    return header + cipher.seal(header, body)


def open_packet(cipher: Cipher, data: bytes) -> Packet:
    """Authenticate and decrypt. Raises `DatagramError` or `AuthenticationFailed`."""
    if len(data) < HEADER_BYTES + MAC_BYTES + _TIMESTAMPS.size:
        raise DatagramError("datagram too short")
    header = bytes(data[:HEADER_BYTES])
    connection_id, epoch, direction_seq = _HEADER.unpack(header)
    body = cipher.open(header, bytes(data[HEADER_BYTES:]))
    if len(body) < _TIMESTAMPS.size:  # pragma: no cover - an authentic peer never sends this
        raise DatagramError("body too short")
    timestamp, reply = _TIMESTAMPS.unpack_from(body)
    return Packet(
        connection_id,
        direction_seq >> 63,
        direction_seq & SEQ_MASK,
        timestamp,
        reply,
        body[_TIMESTAMPS.size :],
        epoch,
    )


# --- instructions ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Instruction:
    """ "Apply `diff` to state `old_num` to get `new_num`; I have your state `ack_num`; I will
    never again send a diff based on a state older than `throwaway_num`.\""""

    old_num: int
    new_num: int
    ack_num: int
    throwaway_num: int
    diff: bytes
    chaff: bytes = b""
    version: int = PROTOCOL_VERSION

    def same_content(self, other: Instruction) -> bool:
        """True if `other` is a retransmission of this instruction (chaff may differ)."""
        return (
            self.old_num == other.old_num
            and self.new_num == other.new_num
            and self.ack_num == other.ack_num
            and self.throwaway_num == other.throwaway_num
            and self.diff == other.diff
        )


def make_chaff(entropy: Callable[[int], bytes] = os.urandom) -> bytes:
    """0–16 random bytes so that datagram lengths say less about keystrokes.

    `entropy(n)` gives n random bytes; a seeded one makes a simulation's datagrams replayable.
    """
    return entropy(entropy(1)[0] % 17)


def encode_instruction(inst: Instruction) -> bytes:
    head = _INSTRUCTION_HEAD.pack(
        inst.version, inst.old_num, inst.new_num, inst.ack_num, inst.throwaway_num, len(inst.chaff)
    )
    return head + inst.chaff + inst.diff


def decode_instruction(data: bytes) -> Instruction:
    if len(data) < _INSTRUCTION_HEAD.size:
        raise DatagramError("instruction too short")
    version, old, new, ack, throwaway, chaff_len = _INSTRUCTION_HEAD.unpack_from(data)
    start = _INSTRUCTION_HEAD.size
    if len(data) < start + chaff_len:
        raise DatagramError("instruction chaff truncated")
    chaff = data[start : start + chaff_len]
    return Instruction(old, new, ack, throwaway, data[start + chaff_len :], chaff, version)


# --- fragments ------------------------------------------------------------------------------
class Fragmenter:
    """Cuts instructions into datagram-sized fragments.

    A retransmission of the same instruction keeps its id, so the receiver can complete it from
    fragments of different transmissions.
    """

    def __init__(self, encode: Callable[[Instruction], bytes] = encode_instruction) -> None:
        self._encode = encode  # the wire's instruction codec
        self._next_id = 0
        self._last: Instruction | None = None
        self._last_chunk_bytes = 0
        self._last_compressed = b""

    def fragments(self, inst: Instruction, chunk_bytes: int) -> list[bytes]:
        if chunk_bytes < 1:
            raise ValueError("no room for a fragment")
        if (
            self._last is None
            or not inst.same_content(self._last)
            or chunk_bytes != self._last_chunk_bytes
        ):
            self._next_id += 1
            self._last, self._last_chunk_bytes = inst, chunk_bytes
            self._last_compressed = zlib.compress(self._encode(inst))
        # A retransmission reuses the first transmission's bytes (and chaff): fragments of the
        # two must combine into one valid zlib stream.
        compressed = self._last_compressed
        chunks = [
            compressed[i : i + chunk_bytes] for i in range(0, len(compressed), chunk_bytes)
        ] or [b""]
        if len(chunks) > MAX_FRAGMENTS:
            raise ValueError("instruction too large")
        last = len(chunks) - 1
        return [
            _FRAGMENT_HEADER.pack(self._next_id, n | (_FINAL_BIT if n == last else 0)) + chunk
            for n, chunk in enumerate(chunks)
        ]


class FragmentAssembly:
    """Reassembles one instruction at a time; a fragment of a new id discards a partial one."""

    def __init__(
        self,
        decode: Callable[[bytes], Instruction] = decode_instruction,
        max_instruction_bytes: int = MAX_INSTRUCTION_BYTES,
    ) -> None:
        """`decode` is the wire's instruction codec (it raises a ValueError on bad bytes);
        `max_instruction_bytes` bounds an instruction decompressed (a zlib bomb)."""
        self._decode = decode
        self._max_bytes = max_instruction_bytes
        self._current_id: int | None = None
        self._chunks: dict[int, bytes] = {}
        self._total: int | None = None

    def add(self, fragment: bytes) -> Instruction | None:
        """Take one fragment; return the instruction once it is complete.

        Raises `DatagramError` for a malformed fragment or instruction.
        """
        if len(fragment) < _FRAGMENT_HEADER.size:
            raise DatagramError("fragment too short")
        inst_id, number_final = _FRAGMENT_HEADER.unpack_from(fragment)
        number = number_final & ~_FINAL_BIT
        if inst_id != self._current_id:
            self._current_id, self._chunks, self._total = inst_id, {}, None
        if number_final & _FINAL_BIT:
            self._total = number + 1
        self._chunks.setdefault(number, fragment[_FRAGMENT_HEADER.size :])
        if self._total is None or len(self._chunks) < self._total:
            return None
        try:
            compressed = b"".join(self._chunks[n] for n in range(self._total))
        except KeyError as exc:
            raise DatagramError("fragment numbers inconsistent") from exc
        finally:
            self._current_id, self._chunks, self._total = None, {}, None
        plain = _bounded_decompress(compressed, self._max_bytes)
        try:
            return self._decode(plain)
        except DatagramError:
            raise
        except ValueError as exc:  # another codec's DecodeError: malformed all the same
            raise DatagramError(str(exc)) from exc


def _bounded_decompress(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise DatagramError("bad compression") from exc
    if inflater.unconsumed_tail or not inflater.eof:
        raise DatagramError("instruction too large or incomplete")
    return out

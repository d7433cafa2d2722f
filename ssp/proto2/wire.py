"""Protocol 2's datagrams, as a wire for `ssp.transport.Endpoint`.

    datagram   nonce tail (u64, clear) | AES-128-OCB3(plaintext) | tag (16 bytes)
    nonce tail direction << 63 | seq, big-endian; direction 0 to the server, 1 to the client
    plaintext  timestamp (u16) | timestamp reply (u16) | fragment (as in ssp.datagram)

The instruction inside the fragments is a protobuf `TransportBuffers.Instruction`, zlib-
compressed with its header, at most 4 MiB decompressed. There is no connection id and no nonce
epoch: to the endpoint's replay window the whole connection is one run, epoch 0.
"""

from __future__ import annotations

import os
import struct

from ssp.datagram import SEQ_MASK, DatagramError, Instruction, Packet
from ssp.key import SecretKey
from ssp.proto2.crypto import NONCE_TAIL_BYTES, TAG_BYTES, Proto2Cipher
from ssp.proto2.key import Proto2Key
from ssp.proto2.messages import (
    PROTOCOL_VERSION,
    decode_transport_instruction,
    encode_transport_instruction,
)
from ssp.wire import Entropy, require_key

_TIMESTAMPS = struct.Struct("!HH")
_FRAGMENT_HEADER_BYTES = 10  # instruction id (u64), final bit and fragment number (u16)
# Upstream drops anything shorter than a nonce and a tag before trying to open it.
MIN_DATAGRAM_BYTES = NONCE_TAIL_BYTES + TAG_BYTES
DATAGRAM_OVERHEAD = MIN_DATAGRAM_BYTES + _TIMESTAMPS.size + _FRAGMENT_HEADER_BYTES
MAX_INSTRUCTION_BYTES = 2048 * 2048  # upstream's decompression buffer


class Proto2Wire:
    """Upstream mosh's protocol 2, under a `Proto2Key`."""

    __slots__ = ("_cipher",)

    protocol_version = PROTOCOL_VERSION
    connection_id = 0
    nonce_epoch = 0
    datagram_overhead = DATAGRAM_OVERHEAD
    max_instruction_bytes = MAX_INSTRUCTION_BYTES

    def __init__(self, key: SecretKey, entropy: Entropy = os.urandom, /) -> None:
        """`entropy` is unused: protocol 2 draws nothing per run (the chaff is the sender's)."""
        del entropy
        self._cipher = Proto2Cipher(require_key(key, Proto2Key))

    def seal(self, packet: Packet) -> bytes:
        """`packet.connection_id` and `packet.epoch` have no place on this wire."""
        if not 0 <= packet.seq <= SEQ_MASK:
            raise ValueError("sequence number out of range")
        tail = (packet.direction << 63 | packet.seq).to_bytes(NONCE_TAIL_BYTES, "big")
        body = _TIMESTAMPS.pack(packet.timestamp, packet.timestamp_reply) + packet.payload
        return tail + self._cipher.seal(tail, body)

    def open(self, data: bytes) -> Packet:
        """Raises `DatagramError` or `AuthenticationFailed`."""
        if len(data) < MIN_DATAGRAM_BYTES:
            raise DatagramError("datagram too short")
        tail = bytes(data[:NONCE_TAIL_BYTES])
        body = self._cipher.open(tail, bytes(data[NONCE_TAIL_BYTES:]))
        if len(body) < _TIMESTAMPS.size:
            # Authentic yet too short to use: a stock peer never sends this.
            raise DatagramError("body too short")
        direction_seq = int.from_bytes(tail, "big")
        timestamp, reply = _TIMESTAMPS.unpack_from(body)
        return Packet(
            connection_id=0,
            direction=direction_seq >> 63,
            seq=direction_seq & SEQ_MASK,
            timestamp=timestamp,
            timestamp_reply=reply,
            payload=body[_TIMESTAMPS.size :],
            epoch=0,
        )

    def encode_instruction(self, inst: Instruction) -> bytes:
        return encode_transport_instruction(inst)

    def decode_instruction(self, data: bytes) -> Instruction:
        return decode_transport_instruction(data)

"""How an endpoint's datagrams look on the wire: the part of SSP that differs by protocol.

`ssp.transport.Endpoint` runs the same state synchronization (timers, acks, fragments, the
replay window) over either of two wires:
- `NativeWire`, our own protocol (XSalsa20-Poly1305, a 24-byte clear header with a connection
  id and a nonce epoch; see ssp.datagram), the default;
- `ssp.proto2.wire.Proto2Wire`, upstream mosh's protocol 2 (AES-128-OCB3, an 8-byte nonce,
  protobuf instructions), so that stock clients and servers interoperate.

A wire is made from the session key (`WireFactory`): `Endpoint(..., wire=Proto2Wire)`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol, TypeVar

from ssp.crypto import Cipher
from ssp.datagram import (
    DATAGRAM_OVERHEAD,
    EPOCH_BYTES,
    MAX_INSTRUCTION_BYTES,
    PROTOCOL_VERSION,
    Instruction,
    Packet,
    decode_instruction,
    encode_instruction,
    open_packet,
    seal_packet,
)
from ssp.key import Key, SecretKey

Entropy = Callable[[int], bytes]
K = TypeVar("K", bound=SecretKey)


class Wire(Protocol):
    """One protocol's datagram and instruction format, under one session key."""

    @property
    def protocol_version(self) -> int:
        """What an instruction's version must be for the endpoint to use it."""
        ...

    @property
    def connection_id(self) -> int:
        """Put in every datagram sealed; a datagram opened with another is dropped (0 for
        protocols without one)."""
        ...

    @property
    def nonce_epoch(self) -> int:
        """This run's epoch, put in every datagram sealed (0 for protocols without one)."""
        ...

    @property
    def datagram_overhead(self) -> int:
        """Bytes a datagram adds around a fragment's chunk."""
        ...

    @property
    def max_instruction_bytes(self) -> int:
        """The largest decompressed instruction accepted."""
        ...

    def seal(self, packet: Packet) -> bytes: ...

    def open(self, data: bytes) -> Packet:
        """Authenticate and decrypt. Raises `ssp.crypto.AuthenticationFailed`, or a ValueError
        (`ssp.datagram.DatagramError`) for a datagram that cannot be one."""
        ...

    def encode_instruction(self, inst: Instruction) -> bytes: ...

    def decode_instruction(self, data: bytes) -> Instruction:
        """Raises a ValueError for bytes that are not an instruction."""
        ...


class WireFactory(Protocol):
    """A wire class, called with the session key and the endpoint's entropy source."""

    def __call__(self, key: SecretKey, entropy: Entropy = ..., /) -> Wire: ...


def require_key(key: SecretKey, kind: type[K]) -> K:
    """`key` as the kind a wire needs: a key of the other protocol is a programming error."""
    if not isinstance(key, kind):
        raise TypeError(f"this wire needs a {kind.__module__}.{kind.__name__}, not {key!r}")
    return key


class NativeWire:
    """Our own protocol: see ssp.datagram for the format."""

    __slots__ = ("_cipher", "connection_id", "nonce_epoch")

    protocol_version = PROTOCOL_VERSION
    datagram_overhead = DATAGRAM_OVERHEAD
    max_instruction_bytes = MAX_INSTRUCTION_BYTES

    def __init__(self, key: SecretKey, entropy: Entropy = os.urandom, /) -> None:
        native = require_key(key, Key)
        self._cipher = Cipher(native)
        self.connection_id = native.connection_id()
        # Part of every nonce we seal; new for each run, since sequence numbers restart at 0.
        self.nonce_epoch = int.from_bytes(entropy(EPOCH_BYTES), "big")

    def seal(self, packet: Packet) -> bytes:
        return seal_packet(self._cipher, packet)

    def open(self, data: bytes) -> Packet:
        return open_packet(self._cipher, data)

    def encode_instruction(self, inst: Instruction) -> bytes:
        return encode_instruction(inst)

    def decode_instruction(self, data: bytes) -> Instruction:
        return decode_instruction(data)


def wire_for(key: SecretKey) -> WireFactory:
    """The wire a key is for (see `ssp.proto2.key.parse_connect_key`). Protocol 2's is
    imported only when asked for, since it loads `cryptography`."""
    if key.PROTOCOL == "proto2":
        from ssp.proto2.wire import Proto2Wire

        return Proto2Wire
    return NativeWire

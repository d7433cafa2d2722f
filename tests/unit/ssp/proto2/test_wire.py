"""Protocol 2's datagrams (`Proto2Wire`) and telling them from native ones (`looks_native`)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESOCB3
from hypothesis import given
from hypothesis import strategies as st

from ssp.crypto import AuthenticationFailed
from ssp.datagram import (
    NO_TIMESTAMP,
    SEQ_MASK,
    TO_CLIENT,
    TO_SERVER,
    DatagramError,
    FragmentAssembly,
    Fragmenter,
    Instruction,
    Packet,
    looks_native,
)
from ssp.key import Key
from ssp.proto2.crypto import Proto2Cipher
from ssp.proto2.key import Proto2Key
from ssp.proto2.messages import PROTOCOL_VERSION, encode_transport_instruction
from ssp.proto2.wire import DATAGRAM_OVERHEAD, MAX_INSTRUCTION_BYTES, Proto2Wire
from ssp.screen import Framebuffer
from ssp.transport import Endpoint
from ssp.userstream import UserStream
from ssp.wire import NativeWire, wire_for

KEY = Proto2Key(bytes(range(16)))
SEQS = st.integers(0, SEQ_MASK)
STAMPS = st.integers(0, 0xFFFF)


def test_datagram_layout_is_upstreams() -> None:
    packet = Packet(0, TO_SERVER, 5, 0x04D2, NO_TIMESTAMP, b"fragment")
    data = Proto2Wire(KEY).seal(packet)
    tail = (5).to_bytes(8, "big")  # direction 0: to the server
    plaintext = bytes.fromhex("04d2 ffff") + b"fragment"
    assert data == tail + AESOCB3(KEY.raw).encrypt(bytes(4) + tail, plaintext, None)
    assert len(data) == 8 + 4 + len(b"fragment") + 16
    to_client = Proto2Wire(KEY).seal(Packet(0, TO_CLIENT, 5, 1, 2, b""))
    assert to_client[:8] == (1 << 63 | 5).to_bytes(8, "big")


@given(st.sampled_from([TO_SERVER, TO_CLIENT]), SEQS, STAMPS, STAMPS, st.binary(max_size=64))
def test_round_trip(direction: int, seq: int, stamp: int, reply: int, payload: bytes) -> None:
    wire = Proto2Wire(KEY)
    packet = Packet(0, direction, seq, stamp, reply, payload)
    assert wire.open(wire.seal(packet)) == packet


def test_short_and_forged_datagrams_are_refused() -> None:
    wire = Proto2Wire(KEY)
    sealed = wire.seal(Packet(0, TO_SERVER, 1, 2, 3, b"x"))
    for cut in range(24):
        with pytest.raises(DatagramError):  # under 24 bytes: not even tried
            wire.open(sealed[:cut])
    with pytest.raises(AuthenticationFailed):
        wire.open(bytes(24))
    with pytest.raises(AuthenticationFailed):
        Proto2Wire(Proto2Key(bytes(16))).open(sealed)
    tampered = bytearray(sealed)
    tampered[0] ^= 0x80  # the clear direction bit is bound through the nonce
    with pytest.raises(AuthenticationFailed):
        wire.open(bytes(tampered))
    # Authentic but with no room for the timestamps: a stock peer never sends it.
    empty = (7).to_bytes(8, "big") + Proto2Cipher(KEY).seal((7).to_bytes(8, "big"), b"ab")
    with pytest.raises(DatagramError):
        wire.open(empty)


def test_the_overhead_is_nonce_tag_timestamps_and_fragment_header() -> None:
    assert DATAGRAM_OVERHEAD == 8 + 16 + 4 + 10
    fragments = Fragmenter(encode_transport_instruction).fragments(
        Instruction(0, 1, 0, 0, bytes(range(256)) * 20), 300
    )
    for seq, fragment in enumerate(fragments):
        sealed = Proto2Wire(KEY).seal(Packet(0, TO_SERVER, seq, 1, 2, fragment))
        assert len(sealed) <= 300 + DATAGRAM_OVERHEAD


def test_instructions_beyond_4_mib_decompressed_are_refused() -> None:
    wire = Proto2Wire(KEY)
    for size, fits in [(MAX_INSTRUCTION_BYTES - 100, True), (MAX_INSTRUCTION_BYTES, False)]:
        inst = Instruction(0, 1, 0, 0, bytes(size))
        fragments = Fragmenter(wire.encode_instruction).fragments(inst, 60_000)
        assembly = FragmentAssembly(wire.decode_instruction, wire.max_instruction_bytes)
        *head, last = fragments
        for fragment in head:
            assert assembly.add(fragment) is None
        if fits:
            assert assembly.add(last) == Instruction(0, 1, 0, 0, bytes(size), b"", 2)
        else:
            with pytest.raises(DatagramError):
                assembly.add(last)


def test_a_bad_transport_instruction_is_a_datagram_error() -> None:
    wire = Proto2Wire(KEY)
    (fragment,) = Fragmenter(lambda _inst: b"\x0a\x05").fragments(Instruction(0, 1, 0, 0, b""), 99)
    with pytest.raises(DatagramError):
        FragmentAssembly(wire.decode_instruction).add(fragment)
    assert wire.protocol_version == PROTOCOL_VERSION == 2


def test_each_wire_wants_its_own_kind_of_key() -> None:
    with pytest.raises(TypeError):
        Proto2Wire(Key.generate())
    with pytest.raises(TypeError):
        NativeWire(KEY)
    with pytest.raises(TypeError):
        Endpoint(KEY, "server", UserStream(), UserStream(), 0.0)  # native by default
    assert wire_for(KEY) is Proto2Wire and wire_for(Key.generate()) is NativeWire


# --- looks_native ---------------------------------------------------------------------------
@given(st.binary(min_size=32, max_size=32), st.sampled_from(["client", "server"]))
def test_native_datagrams_look_native(raw: bytes, role: str) -> None:
    key, peer = Key(raw), ("127.0.0.1", 1)
    if role == "client":
        client = Endpoint(key, "client", UserStream(), Framebuffer(), 0.0, peer=peer)
        client.local_state.push_keystroke(b"k")
        client.local_state_changed(0.0)
        datagrams = client.datagrams_to_send(1.0)
    else:
        server = Endpoint(key, "server", Framebuffer(), UserStream(), 0.0, peer=peer)
        datagrams = server.datagrams_to_send(1.0)
    assert datagrams
    assert all(looks_native(data) for data, _ in datagrams)


@given(SEQS, STAMPS, st.binary(max_size=32))
def test_stock_client_datagrams_never_look_native(seq: int, stamp: int, payload: bytes) -> None:
    data = Proto2Wire(KEY).seal(Packet(0, TO_SERVER, seq, stamp, NO_TIMESTAMP, payload))
    assert not looks_native(data)


def test_runts_do_not_look_native() -> None:
    assert not looks_native(b"")
    assert not looks_native(b"\xff" * 7)
    assert looks_native(b"\x80" + bytes(7))
    assert not looks_native(b"\x7f" + b"\xff" * 40)

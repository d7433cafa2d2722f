"""The wire format: sealed packets, timestamps, instructions and fragments."""

from __future__ import annotations

import contextlib
import random
import struct
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssp.crypto import MAC_BYTES, AuthenticationFailed, Cipher, Key
from ssp.datagram import (
    DATAGRAM_OVERHEAD,
    DEFAULT_DATAGRAM_BYTES,
    DIRECTION_BIT,
    EPOCH_MASK,
    HEADER_BYTES,
    MAX_INSTRUCTION_BYTES,
    NO_TIMESTAMP,
    PROTOCOL_VERSION,
    SEQ_MASK,
    SHUTDOWN_NUM,
    TO_CLIENT,
    TO_SERVER,
    DatagramError,
    FragmentAssembly,
    Fragmenter,
    Instruction,
    Packet,
    decode_instruction,
    encode_instruction,
    make_chaff,
    open_packet,
    peek_connection_id,
    seal_packet,
    timestamp16,
    timestamp_diff,
)

KEY = Key.generate()
CIPHER = Cipher(KEY)
CHUNK_BYTES = DEFAULT_DATAGRAM_BYTES - DATAGRAM_OVERHEAD
U64 = st.integers(0, (1 << 64) - 1)
U16 = st.integers(0, 0xFFFF)

packets = st.builds(
    Packet,
    connection_id=U64,
    direction=st.sampled_from([TO_SERVER, TO_CLIENT]),
    seq=st.integers(0, SEQ_MASK),
    timestamp=U16,
    timestamp_reply=U16,
    payload=st.binary(max_size=1500),
    epoch=U64,
)
instructions = st.builds(
    Instruction,
    old_num=U64,
    new_num=U64,
    ack_num=U64,
    throwaway_num=U64,
    diff=st.binary(max_size=3000),
    chaff=st.binary(max_size=255),
    version=st.integers(0, 255),
)


def _fragment_id(fragment: bytes) -> int:
    return int.from_bytes(fragment[:8], "big")


def _fragment_number(fragment: bytes) -> tuple[int, bool]:
    value = int.from_bytes(fragment[8:10], "big")
    return value & 0x7FFF, bool(value & 0x8000)


def _incompressible(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _assemble(fragments: list[bytes]) -> list[Instruction]:
    assembly = FragmentAssembly()
    return [inst for f in fragments if (inst := assembly.add(f)) is not None]


# --- packets --------------------------------------------------------------------------------
@settings(max_examples=150)
@given(packets)
def test_packet_seal_open_round_trip(packet: Packet) -> None:
    data = seal_packet(CIPHER, packet)
    assert len(data) == HEADER_BYTES + MAC_BYTES + 4 + len(packet.payload)
    assert open_packet(CIPHER, data) == packet


@given(packets)
def test_header_packs_connection_id_epoch_direction_and_seq_in_the_clear(packet: Packet) -> None:
    data = seal_packet(CIPHER, packet)
    assert HEADER_BYTES == 24
    assert data[:8] == packet.connection_id.to_bytes(8, "big")
    assert data[8:16] == packet.epoch.to_bytes(8, "big")
    word = int.from_bytes(data[16:24], "big")
    assert word >> 63 == packet.direction
    assert word & SEQ_MASK == packet.seq
    assert bool(word & DIRECTION_BIT) == (packet.direction == TO_CLIENT)
    assert peek_connection_id(data) == packet.connection_id


def test_sequence_number_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        seal_packet(CIPHER, Packet(1, TO_SERVER, SEQ_MASK + 1, 0, 0, b""))
    with pytest.raises(ValueError):
        seal_packet(CIPHER, Packet(1, TO_SERVER, -1, 0, 0, b""))
    # The largest sequence number is fine and does not spill into the direction bit.
    data = seal_packet(CIPHER, Packet(1, TO_SERVER, SEQ_MASK, 0, 0, b""))
    assert open_packet(CIPHER, data).direction == TO_SERVER


def test_epoch_out_of_range_is_refused() -> None:
    for epoch in (-1, EPOCH_MASK + 1):
        with pytest.raises(ValueError):
            seal_packet(CIPHER, Packet(1, TO_SERVER, 0, 0, 0, b"", epoch))
    largest = seal_packet(CIPHER, Packet(1, TO_SERVER, 0, 0, 0, b"", EPOCH_MASK))
    assert open_packet(CIPHER, largest).epoch == EPOCH_MASK


def test_same_seq_in_another_epoch_is_another_nonce() -> None:
    # A restarted endpoint starts again at seq 0: only the epoch tells its nonces apart.
    first = seal_packet(CIPHER, Packet(1, TO_SERVER, 0, 7, 7, b"ls\r", 0x1111))
    again = seal_packet(CIPHER, Packet(1, TO_SERVER, 0, 7, 7, b"ls\r", 0x2222))
    assert first[:HEADER_BYTES] != again[:HEADER_BYTES]
    assert first[HEADER_BYTES:] != again[HEADER_BYTES:]  # another keystream, another MAC
    assert open_packet(CIPHER, again).epoch == 0x2222
    # The epoch is authenticated: moved into another epoch's header, the body does not open.
    with pytest.raises(AuthenticationFailed):
        open_packet(CIPHER, again[:HEADER_BYTES] + first[HEADER_BYTES:])


def test_peek_connection_id_needs_no_key_and_rejects_runts() -> None:
    data = seal_packet(CIPHER, Packet(0x0123456789ABCDEF, TO_SERVER, 5, 1, 2, b"xyz"))
    assert peek_connection_id(data) == 0x0123456789ABCDEF
    minimum = HEADER_BYTES + MAC_BYTES + 4
    assert peek_connection_id(data[:minimum]) == 0x0123456789ABCDEF
    for cut in range(minimum):
        assert peek_connection_id(data[:cut]) is None


def test_open_rejects_short_and_foreign_datagrams() -> None:
    data = seal_packet(CIPHER, Packet(7, TO_CLIENT, 9, 1, 2, b"payload"))
    for cut in range(HEADER_BYTES + MAC_BYTES + 4):
        with pytest.raises(DatagramError):
            open_packet(CIPHER, data[:cut])
    for cut in range(HEADER_BYTES + MAC_BYTES + 4, len(data)):
        with pytest.raises(AuthenticationFailed):
            open_packet(CIPHER, data[:cut])
    with pytest.raises(AuthenticationFailed):
        open_packet(Cipher(Key.generate()), data)


@settings(max_examples=100)
@given(packets, st.data())
def test_any_flipped_bit_fails_authentication(packet: Packet, data: st.DataObject) -> None:
    sealed = bytearray(seal_packet(CIPHER, packet))
    bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
    sealed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(AuthenticationFailed):
        open_packet(CIPHER, bytes(sealed))


# --- timestamps -----------------------------------------------------------------------------
@settings(max_examples=300)
@given(st.integers(0, 10**12))
def test_timestamp16_is_the_low_16_bits_of_the_millisecond_clock(ms: int) -> None:
    now = (ms + 0.5) / 1000  # half a millisecond in, away from float rounding edges
    stamp = timestamp16(now)
    assert 0 <= stamp <= 0xFFFF
    assert stamp != NO_TIMESTAMP
    expected = ms % 65536
    assert stamp == (0 if expected == NO_TIMESTAMP else expected)
    assert timestamp16(now + 65.536) == stamp  # wraps modulo 2^16 ms


def test_timestamp16_never_says_none() -> None:
    for wraps in range(5):
        now = (wraps * 65536 + 0xFFFF + 0.5) / 1000
        assert timestamp16(now) == 0
        assert timestamp16(now - 0.001) == 0xFFFE
        assert timestamp16(now + 0.001) == 0
    stamps = {timestamp16(ms / 1000 + 0.0005) for ms in range(0, 70_000)}
    assert NO_TIMESTAMP not in stamps
    assert len(stamps) == 0xFFFF  # every other value occurs


@given(U16, U16)
def test_timestamp_diff_is_modulo_2_16(older: int, elapsed: int) -> None:
    newer = (older + elapsed) & 0xFFFF
    assert timestamp_diff(newer, older) == elapsed
    assert 0 <= timestamp_diff(older, newer) <= 0xFFFF
    assert (timestamp_diff(newer, older) + timestamp_diff(older, newer)) % 65536 == 0


def test_timestamp_diff_across_the_wrap() -> None:
    assert timestamp_diff(5, 0xFFF0) == 21
    assert timestamp_diff(0, 0xFFFE) == 2
    assert timestamp_diff(1000, 1000) == 0
    assert timestamp_diff(timestamp16(65.540), timestamp16(65.530)) == 10


# --- instructions ---------------------------------------------------------------------------
@settings(max_examples=200)
@given(instructions)
def test_instruction_round_trip(inst: Instruction) -> None:
    decoded = decode_instruction(encode_instruction(inst))
    assert decoded == inst
    assert decoded.same_content(inst)


def test_instruction_defaults_and_shutdown_number() -> None:
    inst = Instruction(1, SHUTDOWN_NUM, 3, 0, b"diff")
    assert inst.version == PROTOCOL_VERSION
    assert decode_instruction(encode_instruction(inst)).new_num == (1 << 64) - 1


@given(instructions, st.data())
def test_truncated_instruction_head_or_chaff_is_an_error(
    inst: Instruction, data: st.DataObject
) -> None:
    encoded = encode_instruction(inst)
    head_and_chaff = 34 + len(inst.chaff)
    cut = data.draw(st.integers(0, head_and_chaff - 1))
    with pytest.raises(DatagramError):
        decode_instruction(encoded[:cut])


def test_same_content_ignores_chaff_only() -> None:
    base = Instruction(1, 2, 3, 0, b"d", b"c1")
    assert base.same_content(Instruction(1, 2, 3, 0, b"d", b"c2"))
    for other in (
        Instruction(9, 2, 3, 0, b"d"),
        Instruction(1, 9, 3, 0, b"d"),
        Instruction(1, 2, 9, 0, b"d"),
        Instruction(1, 2, 3, 9, b"d"),
        Instruction(1, 2, 3, 0, b"x"),
    ):
        assert not base.same_content(other)


def test_chaff_is_0_to_16_random_bytes() -> None:
    chaffs = [make_chaff() for _ in range(2000)]
    assert {len(c) for c in chaffs} == set(range(17))
    assert len({c for c in chaffs if len(c) == 16}) > 50


# --- fragments ------------------------------------------------------------------------------
big_instructions = st.builds(
    lambda size, seed, nums: Instruction(
        nums[0], nums[1], nums[2], nums[3], diff=_incompressible(size, seed)
    ),
    st.integers(0, 200_000),
    st.integers(0, 2**32),
    st.tuples(U64, U64, U64, U64),
)
chunk_sizes = st.one_of(st.just(CHUNK_BYTES), st.integers(100, 3000))


@settings(max_examples=40, deadline=None)
@given(big_instructions, chunk_sizes)
def test_fragments_reassemble_in_order(inst: Instruction, chunk_bytes: int) -> None:
    fragments = Fragmenter().fragments(inst, chunk_bytes)
    assert len({_fragment_id(f) for f in fragments}) == 1
    assert [_fragment_number(f) for f in fragments] == [
        (n, n == len(fragments) - 1) for n in range(len(fragments))
    ]
    assert all(len(f) <= 10 + chunk_bytes for f in fragments)
    assert _assemble(fragments) == [inst]


@settings(max_examples=40, deadline=None)
@given(big_instructions, chunk_sizes, st.randoms(use_true_random=False))
def test_fragments_reassemble_reversed_shuffled_and_duplicated(
    inst: Instruction, chunk_bytes: int, rng: random.Random
) -> None:
    fragments = Fragmenter().fragments(inst, chunk_bytes)
    assert _assemble(fragments[::-1]) == [inst]
    shuffled = list(fragments)
    rng.shuffle(shuffled)
    assert _assemble(shuffled) == [inst]
    # Duplicates: every fragment twice, in a random order.
    doubled = fragments + fragments
    rng.shuffle(doubled)
    results = _assemble(doubled)
    assert results and all(r == inst for r in results)
    # Missing one fragment: never complete.
    if len(fragments) > 1:
        missing = list(shuffled)
        del missing[rng.randrange(len(missing))]
        assert _assemble(missing) == []


@settings(max_examples=30, deadline=None)
@given(big_instructions)
def test_each_fragment_fits_the_default_datagram_once_sealed(inst: Instruction) -> None:
    fragments = Fragmenter().fragments(inst, CHUNK_BYTES)
    for seq, fragment in enumerate(fragments):
        packet = Packet(KEY.connection_id(), TO_CLIENT, seq, 1, NO_TIMESTAMP, fragment)
        sealed = seal_packet(CIPHER, packet)
        assert len(sealed) <= DEFAULT_DATAGRAM_BYTES
        assert len(sealed) == len(fragment) - 10 + DATAGRAM_OVERHEAD
    # A full fragment uses the whole datagram: the overhead constant is exact, not generous.
    if len(fragments) > 1:
        first = seal_packet(CIPHER, Packet(1, TO_CLIENT, 0, 1, 2, fragments[0]))
        assert len(first) == DEFAULT_DATAGRAM_BYTES


def test_incompressible_200kb_needs_many_fragments_and_compressible_few() -> None:
    noise = Instruction(0, 1, 0, 0, _incompressible(200_000, 1))
    assert len(Fragmenter().fragments(noise, CHUNK_BYTES)) >= 200_000 // CHUNK_BYTES
    text = Instruction(0, 1, 0, 0, b"hello world " * 20_000)
    assert len(Fragmenter().fragments(text, CHUNK_BYTES)) <= 2  # zlib is applied


def test_retransmission_keeps_its_id_and_transmissions_combine() -> None:
    fragmenter = Fragmenter()
    inst = Instruction(3, 4, 7, 3, _incompressible(5000, 2), chaff=b"\x01\x02")
    first = fragmenter.fragments(inst, 1000)
    again = fragmenter.fragments(Instruction(3, 4, 7, 3, inst.diff, chaff=b"\x01\x02"), 1000)
    assert len(first) == len(again) >= 5
    assert {_fragment_id(f) for f in first} == {_fragment_id(f) for f in again}
    # The receiver lost the odd fragments of the first transmission and the even of the second.
    mixed = [f for i, f in enumerate(first) if i % 2 == 0] + [
        f for i, f in enumerate(again) if i % 2 == 1
    ]
    assert _assemble(mixed) == [inst]


def test_retransmission_with_fresh_chaff_still_combines() -> None:
    fragmenter = Fragmenter()
    diff = _incompressible(5000, 3)
    first = fragmenter.fragments(Instruction(3, 4, 7, 3, diff, chaff=b"\x01"), 1000)
    again = fragmenter.fragments(Instruction(3, 4, 7, 3, diff, chaff=b"\x02\x03"), 1000)
    assert _fragment_id(first[0]) == _fragment_id(again[0])  # promised: combinable
    mixed = [first[0], *again[1:]]
    (result,) = _assemble(mixed)
    assert result.same_content(Instruction(3, 4, 7, 3, diff))


def test_a_different_instruction_or_chunk_size_gets_a_new_id() -> None:
    fragmenter = Fragmenter()
    inst = Instruction(1, 2, 0, 0, b"abc")
    ids = [_fragment_id(fragmenter.fragments(inst, 500)[0])]
    ids.append(_fragment_id(fragmenter.fragments(inst, 500)[0]))
    assert ids[0] == ids[1]
    for other in (
        Instruction(1, 3, 0, 0, b"abc"),
        Instruction(1, 3, 1, 0, b"abc"),
        Instruction(1, 3, 1, 1, b"abc"),
        Instruction(1, 3, 1, 1, b"abd"),
        Instruction(2, 3, 1, 1, b"abd"),
    ):
        ids.append(_fragment_id(fragmenter.fragments(other, 500)[0]))
    ids.append(_fragment_id(fragmenter.fragments(Instruction(2, 3, 1, 1, b"abd"), 400)[0]))
    ids.append(_fragment_id(fragmenter.fragments(inst, 500)[0]))  # back to an old one: new id
    assert len(set(ids)) == len(ids) - 1
    assert ids == sorted(ids)  # ids only grow


def test_a_fragment_of_a_new_id_discards_the_partial_assembly() -> None:
    fragmenter = Fragmenter()
    old = Instruction(0, 1, 0, 0, _incompressible(4000, 4))
    new = Instruction(0, 2, 0, 0, _incompressible(4000, 5))
    old_fragments = fragmenter.fragments(old, 1000)
    new_fragments = fragmenter.fragments(new, 1000)
    assembly = FragmentAssembly()
    assert assembly.add(old_fragments[0]) is None
    results = [assembly.add(f) for f in new_fragments]
    assert results[-1] == new and results[:-1] == [None] * (len(results) - 1)
    # The old partial is gone: the rest of its fragments alone never complete it.
    assert [assembly.add(f) for f in old_fragments[1:]] == [None] * (len(old_fragments) - 1)
    # Interleaving two ids means each new id restarts: nothing completes.
    interleaved = [f for pair in zip(old_fragments, new_fragments, strict=True) for f in pair]
    assert _assemble(interleaved) == []


def test_a_completed_instruction_resets_the_assembly() -> None:
    fragmenter = Fragmenter()
    inst = Instruction(0, 1, 0, 0, _incompressible(3000, 6))
    fragments = fragmenter.fragments(inst, 1000)
    assembly = FragmentAssembly()
    assert [assembly.add(f) for f in fragments][-1] == inst
    # A late duplicate starts over instead of returning the instruction again at once.
    assert assembly.add(fragments[0]) is None


def test_empty_diff_is_one_fragment() -> None:
    inst = Instruction(0, 1, 0, 0, b"")
    (fragment,) = Fragmenter().fragments(inst, CHUNK_BYTES)
    assert _fragment_number(fragment) == (0, True)
    assert FragmentAssembly().add(fragment) == inst


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Fragmenter().fragments(Instruction(0, 1, 0, 0, b""), 0)


# --- malformed fragments --------------------------------------------------------------------
def _raw_fragments(compressed: bytes, inst_id: int = 77, chunk: int = CHUNK_BYTES) -> list[bytes]:
    chunks = [compressed[i : i + chunk] for i in range(0, len(compressed), chunk)] or [b""]
    return [
        struct.pack("!QH", inst_id, n | (0x8000 if n == len(chunks) - 1 else 0)) + c
        for n, c in enumerate(chunks)
    ]


@pytest.mark.parametrize(
    "fragment",
    [
        b"",
        b"\x00" * 9,
        struct.pack("!QH", 1, 0x8000),  # final, empty: not a zlib stream
        struct.pack("!QH", 1, 0x8000) + b"not zlib at all",
        struct.pack("!QH", 1, 0x8000) + zlib.compress(b"short")[:-3],  # truncated stream
        struct.pack("!QH", 1, 0x8000) + zlib.compress(b"x" * 10),  # too short an instruction
        struct.pack("!QH", 1, 0x8000) + zlib.compress(bytes(33)),
        # chaff length says 200 but nothing follows
        struct.pack("!QH", 1, 0x8000) + zlib.compress(struct.pack("!BQQQQB", 1, 0, 1, 0, 0, 200)),
    ],
)
def test_malformed_fragment_raises_datagram_error(fragment: bytes) -> None:
    with pytest.raises(DatagramError):
        FragmentAssembly().add(fragment)


def test_inconsistent_fragment_numbers_raise_datagram_error() -> None:
    assembly = FragmentAssembly()
    compressed = zlib.compress(encode_instruction(Instruction(0, 1, 0, 0, b"x")))
    assert assembly.add(struct.pack("!QH", 5, 3) + compressed) is None  # number 3, not final
    with pytest.raises(DatagramError):
        assembly.add(struct.pack("!QH", 5, 0x8001) + b"")  # final is number 1: 0 is missing
    # And the assembly is usable afterwards.
    assert assembly.add(struct.pack("!QH", 6, 0x8000) + compressed) == Instruction(0, 1, 0, 0, b"x")


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=8))
def test_random_fragments_never_raise_anything_but_datagram_error(pieces: list[bytes]) -> None:
    assembly = FragmentAssembly()
    for piece in pieces:
        with contextlib.suppress(DatagramError):
            assembly.add(piece)


@settings(max_examples=100)
@given(st.binary(max_size=400), st.integers(0, 2**64 - 1))
def test_random_compressed_payload_raises_datagram_error_or_decodes(
    payload: bytes, inst_id: int
) -> None:
    fragment = struct.pack("!QH", inst_id, 0x8000) + zlib.compress(payload)
    if len(payload) < 34:
        with pytest.raises(DatagramError):
            FragmentAssembly().add(fragment)
    else:
        try:
            inst = FragmentAssembly().add(fragment)
        except DatagramError:
            assert payload[33] > len(payload) - 34  # only a truncated chaff is an error
        else:
            assert inst is not None
            assert encode_instruction(inst) == payload


def _zeros_compressed(total: int) -> bytes:
    compressor = zlib.compressobj(9)
    block = bytes(1 << 20)
    out = [compressor.compress(block) for _ in range(total // len(block))]
    out.append(compressor.flush())
    return b"".join(out)


def test_zlib_bomb_is_refused_quickly() -> None:
    bomb = _zeros_compressed(100 * 1024 * 1024)  # 100 MB of zeros, ~100 kB compressed
    assert len(bomb) < 200_000
    fragments = _raw_fragments(bomb)
    assembly = FragmentAssembly()
    started = time.perf_counter()
    for fragment in fragments[:-1]:
        assert assembly.add(fragment) is None
    with pytest.raises(DatagramError):
        assembly.add(fragments[-1])
    assert time.perf_counter() - started < 3.0
    # The assembly recovers: the next instruction goes through.
    inst = Instruction(0, 1, 0, 0, b"ok")
    assert _assemble(Fragmenter().fragments(inst, CHUNK_BYTES)) == [inst]


def test_bomb_just_over_the_limit_is_refused_and_the_limit_is_sane() -> None:
    assert MAX_INSTRUCTION_BYTES <= 256 * 1024 * 1024
    bomb = _zeros_compressed(MAX_INSTRUCTION_BYTES + (1 << 20))
    with pytest.raises(DatagramError):
        _assemble(_raw_fragments(bomb))

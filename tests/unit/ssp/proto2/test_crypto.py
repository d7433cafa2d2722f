"""AES-128-OCB3 as protocol 2 uses it: 12-byte nonce = 4 zero bytes + the 8 clear bytes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESOCB3
from hypothesis import given
from hypothesis import strategies as st

from ssp.crypto import AuthenticationFailed
from ssp.proto2.crypto import TAG_BYTES, Proto2Cipher
from ssp.proto2.key import Proto2Key

KEY = Proto2Key(bytes(range(16)))
TAIL = (1 << 63 | 5).to_bytes(8, "big")


def test_sealing_is_ocb3_under_the_zero_padded_nonce_without_associated_data() -> None:
    sealed = Proto2Cipher(KEY).seal(TAIL, b"plaintext")
    assert sealed == AESOCB3(KEY.raw).encrypt(bytes(4) + TAIL, b"plaintext", None)
    assert len(sealed) == len(b"plaintext") + TAG_BYTES


def test_the_library_is_rfc7253_ocb_with_a_16_byte_tag() -> None:
    # RFC 7253 appendix A, first sample (empty associated data and plaintext): the mode
    # upstream's OCB implementation follows.
    nonce = bytes.fromhex("BBAA99887766554433221100")
    assert AESOCB3(KEY.raw).encrypt(nonce, b"", None) == bytes.fromhex(
        "785407BFFFC8AD9EDCC5520AC9111EE6"
    )


@given(st.binary(max_size=200), st.binary(min_size=8, max_size=8))
def test_round_trip(plaintext: bytes, tail: bytes) -> None:
    cipher = Proto2Cipher(KEY)
    assert cipher.open(tail, cipher.seal(tail, plaintext)) == plaintext


@given(st.binary(min_size=1, max_size=64), st.data())
def test_any_tampering_fails_to_open(plaintext: bytes, data: st.DataObject) -> None:
    cipher = Proto2Cipher(KEY)
    sealed = bytearray(cipher.seal(TAIL, plaintext))
    index = data.draw(st.integers(0, len(sealed) - 1))
    sealed[index] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(AuthenticationFailed):
        cipher.open(TAIL, bytes(sealed))


def test_wrong_nonce_wrong_key_and_truncation_fail_to_open() -> None:
    cipher = Proto2Cipher(KEY)
    sealed = cipher.seal(TAIL, b"hello")
    other_tail = (5).to_bytes(8, "big")
    for tail, ciphertext, key in [
        (other_tail, sealed, KEY),
        (TAIL, sealed, Proto2Key(bytes(16))),
        (TAIL, sealed[:-1], KEY),
        (TAIL, sealed[: TAG_BYTES - 1], KEY),
        (TAIL, b"", KEY),
    ]:
        with pytest.raises(AuthenticationFailed):
            Proto2Cipher(key).open(tail, ciphertext)

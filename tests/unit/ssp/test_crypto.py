"""Session keys and the secretbox seal/open under the clear header."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssp.crypto import (
    KEY_BYTES,
    KEY_TEXT_LENGTH,
    MAC_BYTES,
    NONCE_BYTES,
    AuthenticationFailed,
    Cipher,
    Key,
    MalformedKey,
    nonce_for,
)

BASE64_ALPHABET = re.compile(r"[A-Za-z0-9+/]{43}")
HEADER = bytes(range(24))  # connection id, epoch, direction | seq: the whole nonce

raw_keys = st.binary(min_size=KEY_BYTES, max_size=KEY_BYTES)


# --- generation and text form ---------------------------------------------------------------
def test_generated_keys_are_32_random_bytes_as_43_chars_of_unpadded_base64() -> None:
    keys = [Key.generate() for _ in range(64)]
    for key in keys:
        assert len(key.raw) == KEY_BYTES == 32
        assert len(key.text) == KEY_TEXT_LENGTH == 43
        assert BASE64_ALPHABET.fullmatch(key.text)
        assert "=" not in key.text
        assert base64.b64decode(key.text + "=") == key.raw
        assert Key.from_text(key.text) == key
    assert len({key.raw for key in keys}) == len(keys)  # random, not a constant
    # Every byte value turns up somewhere in 64 × 32 random bytes (fails for a weak generator
    # such as one that only fills a few bytes or a narrow range).
    assert len({b for key in keys for b in key.raw}) > 200


@given(raw_keys)
def test_text_round_trips(raw: bytes) -> None:
    key = Key(raw)
    assert len(key.text) == KEY_TEXT_LENGTH
    again = Key.from_text(key.text)
    assert again == key
    assert again.raw == raw
    assert again.text == key.text
    assert hash(again) == hash(key)


@pytest.mark.parametrize("space", [" ", "\n", "\t", "\r\n", "  \n "])
def test_whitespace_around_the_text_is_tolerated(space: str) -> None:
    key = Key.generate()
    assert Key.from_text(space + key.text + space) == key
    assert Key.from_text(key.text + space) == key


def _valid_text() -> str:
    return Key.generate().text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "43 characters"),
        ("A" * 42, "43 characters"),
        ("A" * 44, "43 characters"),
        ("A" * 22, "43 characters"),
        ("A" * 86, "43 characters"),
        ("A" * 41 + "==", "base64"),  # padding inside the 43 characters
        ("A" * 40 + "=AA", "base64"),
        ("A" * 42 + "!", "base64"),
        ("A" * 20 + " " + "A" * 22, "base64"),  # whitespace inside is not whitespace around
        ("A" * 42 + "-", "base64"),  # urlsafe alphabet is not ours
        ("A" * 42 + "_", "base64"),
        ("A" * 42 + "é", "base64"),  # non-ASCII
        ("A" * 42 + "\u0410", "base64"),  # Cyrillic A looks like A
        ("A" * 42 + "\x00", "base64"),
    ],
)
def test_malformed_key_text_is_rejected_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(MalformedKey, match=message):
        Key.from_text(text)


def test_padded_44_char_form_is_rejected() -> None:
    padded = base64.b64encode(Key.generate().raw).decode()
    assert len(padded) == 44 and padded.endswith("=")
    with pytest.raises(MalformedKey, match="without '=' padding"):
        Key.from_text(padded)
    with pytest.raises(MalformedKey, match="this one has 42"):
        Key.from_text(padded[:42])


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_arbitrary_text_is_a_key_or_a_malformed_key_error(text: str) -> None:
    try:
        key = Key.from_text(text)
    except MalformedKey as exc:
        assert str(exc)  # a message, never an empty error
    else:
        assert key.text[:42] == text.strip()[:42]
        assert Key.from_text(key.text) == key


def test_one_trailing_pad_character_is_rejected() -> None:
    text = _valid_text()[:42] + "="
    with pytest.raises(MalformedKey):
        Key.from_text(text)


def test_one_trailing_pad_character_gets_a_message_about_the_text() -> None:
    with pytest.raises(MalformedKey, match=r"base64|padding|43 characters"):
        Key.from_text(_valid_text()[:42] + "=")


def test_non_canonical_last_character_is_rejected() -> None:
    key = Key(bytes(32))
    assert key.text == "A" * 43
    with pytest.raises(MalformedKey):
        Key.from_text("A" * 42 + "B")  # same 256 bits, a non-zero unused bit


def test_malformed_key_is_a_value_error_so_callers_can_catch_either() -> None:
    assert issubclass(MalformedKey, ValueError)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_raw_keys_must_be_32_bytes(length: int) -> None:
    with pytest.raises(MalformedKey, match="32 bytes"):
        Key(bytes(length))


def test_repr_and_str_never_contain_the_key() -> None:
    key = Key.generate()
    for shown in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert key.text not in shown
        assert key.text[:8] not in shown
        assert key.raw.hex() not in shown
        assert repr(key.raw) not in shown


def test_key_error_messages_never_echo_the_text() -> None:
    secret = _valid_text()
    for bad in (secret[:42], secret + "A", secret[:42] + "!"):
        with pytest.raises(MalformedKey) as info:
            Key.from_text(bad)
        assert secret[:20] not in str(info.value)


# --- connection id --------------------------------------------------------------------------
@given(raw_keys)
def test_connection_id_is_deterministic_per_key_and_64_bits(raw: bytes) -> None:
    key = Key(raw)
    cid = key.connection_id()
    assert cid == key.connection_id() == Key(bytes(raw)).connection_id()
    assert cid == Key.from_text(key.text).connection_id()
    assert 0 <= cid < 1 << 64


def test_connection_id_differs_between_keys() -> None:
    ids = {Key.generate().connection_id() for _ in range(500)}
    assert len(ids) == 500


@given(raw_keys, st.integers(0, KEY_BYTES * 8 - 1))
def test_one_bit_of_key_changes_the_connection_id(raw: bytes, bit: int) -> None:
    flipped = bytearray(raw)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert Key(raw).connection_id() != Key(bytes(flipped)).connection_id()


def test_connection_id_is_not_the_key_itself() -> None:
    key = Key.generate()
    cid = key.connection_id().to_bytes(8, "big")
    assert cid not in key.raw  # derived, never a slice of the secret


# --- seal / open ----------------------------------------------------------------------------
headers = st.binary(min_size=NONCE_BYTES, max_size=NONCE_BYTES)
payloads = st.binary(max_size=2000)


@given(raw_keys, headers, payloads)
def test_seal_open_round_trip(raw: bytes, header: bytes, plaintext: bytes) -> None:
    cipher = Cipher(Key(raw))
    sealed = cipher.seal(header, plaintext)
    assert len(sealed) == len(plaintext) + MAC_BYTES
    assert Cipher(Key(raw)).open(header, sealed) == plaintext
    if len(plaintext) >= 8:
        assert plaintext not in sealed  # it is encrypted, not just authenticated


def test_the_nonce_is_the_header_and_nothing_else() -> None:
    assert NONCE_BYTES == 24
    assert nonce_for(HEADER) == HEADER
    # HEADER[:16] is as long as the old header, whose nonce ended in 8 zero bytes.
    for wrong in (HEADER[:15], HEADER[:16], HEADER[:23], HEADER + b"\x00"):
        with pytest.raises(ValueError):
            nonce_for(wrong)
    key = Key.generate()
    a = Cipher(key).seal(HEADER, b"same plaintext")
    for index in range(NONCE_BYTES):  # every header byte changes the keystream: none is padding
        other = bytearray(HEADER)
        other[index] ^= 0xFF
        assert Cipher(key).seal(bytes(other), b"same plaintext") != a


@settings(max_examples=200)
@given(headers, payloads, st.data())
def test_tampered_header_does_not_open(
    header: bytes, plaintext: bytes, data: st.DataObject
) -> None:
    cipher = Cipher(Key.generate())
    sealed = cipher.seal(header, plaintext)
    index = data.draw(st.integers(0, NONCE_BYTES - 1), label="header byte")
    delta = data.draw(st.integers(1, 255), label="xor")
    bad = bytearray(header)
    bad[index] ^= delta
    with pytest.raises(AuthenticationFailed):
        cipher.open(bytes(bad), sealed)


@settings(max_examples=200)
@given(headers, payloads, st.data())
def test_tampered_ciphertext_does_not_open(
    header: bytes, plaintext: bytes, data: st.DataObject
) -> None:
    cipher = Cipher(Key.generate())
    sealed = cipher.seal(header, plaintext)
    index = data.draw(st.integers(0, len(sealed) - 1), label="ciphertext byte")
    delta = data.draw(st.integers(1, 255), label="xor")
    bad = bytearray(sealed)
    bad[index] ^= delta
    with pytest.raises(AuthenticationFailed):
        cipher.open(header, bytes(bad))


@given(headers, st.binary(min_size=1, max_size=300), st.data())
def test_truncated_or_extended_ciphertext_does_not_open(
    header: bytes, plaintext: bytes, data: st.DataObject
) -> None:
    cipher = Cipher(Key.generate())
    sealed = cipher.seal(header, plaintext)
    cut = data.draw(st.integers(0, len(sealed) - 1), label="keep")
    with pytest.raises(AuthenticationFailed):
        cipher.open(header, sealed[:cut])
    with pytest.raises(AuthenticationFailed):
        cipher.open(header, sealed[cut:] if cut else sealed[1:])
    with pytest.raises(AuthenticationFailed):
        cipher.open(header, sealed + b"\x00")


def test_every_truncation_raises_authentication_failed_not_something_else() -> None:
    cipher = Cipher(Key.generate())
    sealed = cipher.seal(HEADER, b"x" * 40)
    for cut in range(len(sealed)):
        with pytest.raises(AuthenticationFailed):
            cipher.open(HEADER, sealed[:cut])


@given(headers, payloads)
def test_another_key_does_not_open(header: bytes, plaintext: bytes) -> None:
    sealed = Cipher(Key.generate()).seal(header, plaintext)
    with pytest.raises(AuthenticationFailed):
        Cipher(Key.generate()).open(header, sealed)


def test_authentication_failed_is_not_a_value_error() -> None:
    # The receive path tells forgeries (counted as unauthentic) from malformed input by type.
    assert not issubclass(AuthenticationFailed, ValueError)

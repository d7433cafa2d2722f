"""Session keys and authenticated encryption (XSalsa20-Poly1305, PyNaCl's SecretBox).

The 24-byte nonce is built from what travels in the clear datagram header: the connection id
and `direction << 63 | seq`, padded with zeros. Tampering with the header therefore makes
decryption fail, and a nonce never repeats under a key because `seq` strictly increases per
direction and the direction bit separates the two senders.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

KEY_BYTES = 32
KEY_TEXT_LENGTH = 43  # 32 bytes as unpadded base64
MAC_BYTES = SecretBox.MACBYTES
_NONCE_PAD = bytes(SecretBox.NONCE_SIZE - 16)


class MalformedKey(ValueError):
    """A key string is not 43 characters of base64 encoding 32 bytes."""


class AuthenticationFailed(Exception):
    """A sealed body did not open: wrong key, tampered header or body, or truncation."""


class Key:
    """A 32-byte session key. Its text form is what `MOSH CONNECT` and `MOSH_KEY` carry."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_BYTES:
            raise MalformedKey(f"a key is {KEY_BYTES} bytes, not {len(raw)}")
        self._raw = bytes(raw)

    @classmethod
    def generate(cls) -> Key:
        return cls(os.urandom(KEY_BYTES))

    @classmethod
    def from_text(cls, text: str) -> Key:
        text = text.strip()
        if text.endswith("="):
            raise MalformedKey(
                f"a key is {KEY_TEXT_LENGTH} characters of base64 without '=' padding"
            )
        if len(text) != KEY_TEXT_LENGTH:
            raise MalformedKey(
                f"a key is {KEY_TEXT_LENGTH} characters of base64, this one has {len(text)}"
            )
        try:
            raw = base64.b64decode(text + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedKey("a key must be base64 (A–Z, a–z, 0–9, +, /)") from exc
        key = cls(raw)
        if key.text != text:
            # The last character carries two unused bits; only one spelling names each key.
            raise MalformedKey("a key's last character is not valid base64 for 32 bytes")
        return key

    @property
    def text(self) -> str:
        return base64.b64encode(self._raw).decode("ascii").rstrip("=")

    @property
    def raw(self) -> bytes:
        return self._raw

    def connection_id(self) -> int:
        """The 64-bit id both ends put in every datagram header, derived from the key.

        Deriving it keeps the upstream `MOSH CONNECT <port> <key>` contract while letting one UDP
        port serve many sessions: the daemon routes each datagram by this id.
        """
        digest = hashlib.blake2b(self._raw, digest_size=8, person=b"moshd-connid").digest()
        return int.from_bytes(digest, "big")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return "Key(<secret>)"  # never print key material, not even in tracebacks


def nonce_for(header: bytes) -> bytes:
    """The 24-byte nonce for a 16-byte clear header."""
    if len(header) != 16:
        raise ValueError("the clear header is 16 bytes")
    return header + _NONCE_PAD


class Cipher:
    """Seals and opens datagram bodies under one key."""

    __slots__ = ("_box",)

    def __init__(self, key: Key) -> None:
        self._box = SecretBox(key.raw)

    def seal(self, header: bytes, plaintext: bytes) -> bytes:
        return self._box.encrypt(plaintext, nonce_for(header)).ciphertext

    def open(self, header: bytes, ciphertext: bytes) -> bytes:
        if len(ciphertext) < MAC_BYTES:
            raise AuthenticationFailed("too short")
        try:
            return self._box.decrypt(ciphertext, nonce_for(header))
        except CryptoError as exc:
            raise AuthenticationFailed("does not authenticate") from exc

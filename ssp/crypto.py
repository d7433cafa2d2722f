"""Authenticated encryption of datagram bodies (XSalsa20-Poly1305, PyNaCl's SecretBox).

The session key itself is `ssp.key.Key` (re-exported here); it needs no PyNaCl.

The 24-byte nonce is built from what travels in the clear datagram header: the connection id
and `direction << 63 | seq`, padded with zeros. Tampering with the header therefore makes
decryption fail, and a nonce never repeats under a key because `seq` strictly increases per
direction and the direction bit separates the two senders.
"""

from __future__ import annotations

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

# The key itself lives in ssp.key, which does not need PyNaCl; these names stay importable here.
from ssp.key import KEY_BYTES, KEY_TEXT_LENGTH, Key, MalformedKey

MAC_BYTES = SecretBox.MACBYTES
_NONCE_PAD = bytes(SecretBox.NONCE_SIZE - 16)


class AuthenticationFailed(Exception):
    """A sealed body did not open: wrong key, tampered header or body, or truncation."""


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


__all__ = [
    "KEY_BYTES",
    "KEY_TEXT_LENGTH",
    "MAC_BYTES",
    "AuthenticationFailed",
    "Cipher",
    "Key",
    "MalformedKey",
    "nonce_for",
]

"""Authenticated encryption of datagram bodies (XSalsa20-Poly1305, PyNaCl's SecretBox).

The session key itself is `ssp.key.Key` (re-exported here); it needs no PyNaCl.

The 24-byte nonce is the clear datagram header itself: the connection id, the sender's nonce
epoch and `direction << 63 | seq`. Tampering with the header therefore makes decryption fail.

A nonce must never repeat under a key: XSalsa20 would reuse its keystream (the XOR of two
plaintexts leaks) and Poly1305 its one-time key (forgeries become possible). `seq` strictly
increases within one endpoint and the direction bit separates the two senders, but a restarted
endpoint (a client run again with the same MOSH_KEY) starts again at seq 0. The epoch, 64
random bits drawn by each endpoint when it starts, makes that restart's nonces new: two runs of
one side collide only if their epochs are equal, with probability 2^-64 per pair of runs. So
nonce uniqueness across restarts is probabilistic, not guaranteed; within one run it is.
"""

from __future__ import annotations

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

# The key itself lives in ssp.key, which does not need PyNaCl; these names stay importable here.
from ssp.key import KEY_BYTES, KEY_TEXT_LENGTH, Key, MalformedKey

MAC_BYTES = SecretBox.MACBYTES
NONCE_BYTES = SecretBox.NONCE_SIZE


class AuthenticationFailed(Exception):
    """A sealed body did not open: wrong key, tampered header or body, or truncation."""


def nonce_for(header: bytes) -> bytes:
    """The 24-byte nonce for a clear header: the header itself, which is exactly that long."""
    if len(header) != NONCE_BYTES:
        raise ValueError(f"the clear header is {NONCE_BYTES} bytes")
    return header


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
    "NONCE_BYTES",
    "AuthenticationFailed",
    "Cipher",
    "Key",
    "MalformedKey",
    "nonce_for",
]

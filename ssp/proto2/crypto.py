"""Protocol 2's authenticated encryption: AES-128 in OCB3 mode with a 16-byte tag.

A datagram carries 8 bytes of nonce in the clear, `direction << 63 | seq`; the 12-byte OCB
nonce is four zero bytes then those 8. No associated data: the clear 8 bytes are bound to the
ciphertext through the nonce, so tampering with them makes opening fail.

As in upstream, `seq` counts from 0 in each run, so a run that reused a key with the same
direction would repeat nonces; upstream never reuses a key across runs (a new server prints a
new key), and neither must callers of this module.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESOCB3

from ssp.crypto import AuthenticationFailed
from ssp.proto2.key import Proto2Key

TAG_BYTES = 16
NONCE_TAIL_BYTES = 8
_NONCE_HEAD = bytes(4)


class Proto2Cipher:
    """Seals and opens datagram bodies under one protocol-2 key."""

    __slots__ = ("_aead",)

    def __init__(self, key: Proto2Key) -> None:
        self._aead = AESOCB3(key.raw)

    def seal(self, nonce_tail: bytes, plaintext: bytes) -> bytes:
        """The ciphertext with its tag appended."""
        return self._aead.encrypt(_nonce(nonce_tail), plaintext, None)

    def open(self, nonce_tail: bytes, ciphertext: bytes) -> bytes:
        """Raises `AuthenticationFailed` (the same as ssp.crypto's) if it does not open."""
        if len(ciphertext) < TAG_BYTES:
            raise AuthenticationFailed("too short")
        try:
            return self._aead.decrypt(_nonce(nonce_tail), ciphertext, None)
        except InvalidTag as exc:
            raise AuthenticationFailed("does not authenticate") from exc


def _nonce(tail: bytes) -> bytes:
    if len(tail) != NONCE_TAIL_BYTES:
        raise ValueError(f"the clear nonce is {NONCE_TAIL_BYTES} bytes")
    return _NONCE_HEAD + tail

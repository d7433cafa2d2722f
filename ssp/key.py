"""Session keys: 32 random bytes, carried as 43 characters of base64 by `MOSH CONNECT` and
`MOSH_KEY`.

Apart from `ssp.crypto` (which seals datagrams with them) so that checking a key's text form
does not load the cipher: the `mosh` wrapper reads keys but never encrypts, and starts faster
without PyNaCl.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

KEY_BYTES = 32
KEY_TEXT_LENGTH = 43  # 32 bytes as unpadded base64


class MalformedKey(ValueError):
    """A key string is not 43 characters of base64 encoding 32 bytes."""


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

"""Session keys: 32 random bytes, carried as 43 characters of base64 by `MOSH CONNECT` and
`MOSH_KEY`.

Apart from `ssp.crypto` (which seals datagrams with them) so that checking a key's text form
does not load the cipher: the `mosh` wrapper reads keys but never encrypts, and starts faster
without PyNaCl. `SecretKey` holds what every key shares (its text form, equality, a repr that
hides it); upstream's 16-byte protocol-2 key (`ssp.proto2.key`) is one too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from typing import ClassVar, Self

KEY_BYTES = 32
KEY_TEXT_LENGTH = 43  # 32 bytes as unpadded base64
# Set in every native connection id: see `Key.connection_id` and `ssp.datagram.looks_native`.
NATIVE_ID_BIT = 1 << 63


class MalformedKey(ValueError):
    """A key string is not base64 (without padding) of a key of the right length."""


class SecretKey:
    """Random bytes shared by both ends; its text form is what `MOSH CONNECT` carries."""

    __slots__ = ("_raw",)

    BYTES: ClassVar[int]
    TEXT_LENGTH: ClassVar[int]  # unpadded base64 of BYTES bytes
    PROTOCOL: ClassVar[str]  # the wire this key is for: "native" or "proto2"

    def __init__(self, raw: bytes) -> None:
        if len(raw) != self.BYTES:
            raise MalformedKey(f"a key is {self.BYTES} bytes, not {len(raw)}")
        self._raw = bytes(raw)

    @classmethod
    def generate(cls) -> Self:
        return cls(os.urandom(cls.BYTES))

    @classmethod
    def from_text(cls, text: str) -> Self:
        text = text.strip()
        if text.endswith("="):
            raise MalformedKey(
                f"a key is {cls.TEXT_LENGTH} characters of base64 without '=' padding"
            )
        if len(text) != cls.TEXT_LENGTH:
            raise MalformedKey(
                f"a key is {cls.TEXT_LENGTH} characters of base64, this one has {len(text)}"
            )
        padding = "=" * (-len(text) % 4)
        try:
            raw = base64.b64decode(text + padding, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedKey("a key must be base64 (A–Z, a–z, 0–9, +, /)") from exc
        key = cls(raw)
        if key.text != text:
            # The last character carries unused bits; only one spelling names each key.
            raise MalformedKey(f"a key's last character is not valid base64 for {cls.BYTES} bytes")
        return key

    @property
    def text(self) -> str:
        return base64.b64encode(self._raw).decode("ascii").rstrip("=")

    @property
    def raw(self) -> bytes:
        return self._raw

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._raw == other._raw

    def __hash__(self) -> int:
        return hash((type(self), self._raw))

    def __repr__(self) -> str:
        # Never print key material, not even in tracebacks.
        return f"{type(self).__name__}(<secret>)"


class Key(SecretKey):
    """A 32-byte session key of the native protocol."""

    __slots__ = ()

    BYTES = KEY_BYTES
    TEXT_LENGTH = KEY_TEXT_LENGTH
    PROTOCOL = "native"

    def connection_id(self) -> int:
        """The 64-bit id both ends put in every datagram header, derived from the key.

        Deriving it keeps the upstream `MOSH CONNECT <port> <key>` contract while letting one UDP
        port serve many sessions: the daemon routes each datagram by this id. Its top bit is
        always set: the first 8 bytes of a stock client's datagram are its nonce, whose top
        bit (the direction, "to server") is always clear, so one bit tells the two protocols
        apart before any crypto (`ssp.datagram.looks_native`).
        """
        digest = hashlib.blake2b(self._raw, digest_size=8, person=b"moshd-connid").digest()
        return int.from_bytes(digest, "big") | NATIVE_ID_BIT

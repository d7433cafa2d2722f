"""Protocol 2's session key: 16 random bytes, 22 characters of base64 without `==`.

Like `ssp.key`, importable without any cipher: the `mosh` wrapper reads keys but never
encrypts. Stock wrappers accept only `^MOSH CONNECT (\\d+?) ([A-Za-z0-9/+]{22})\\s*$`, so a
server that wants a stock client prints a key of this kind.
"""

from __future__ import annotations

from ssp.key import KEY_TEXT_LENGTH, Key, MalformedKey, SecretKey

PROTO2_KEY_BYTES = 16
PROTO2_KEY_TEXT_LENGTH = 22  # 16 bytes as base64 without the "==" padding


class Proto2Key(SecretKey):
    """A 16-byte AES-128 key of upstream mosh's protocol 2."""

    __slots__ = ()

    BYTES = PROTO2_KEY_BYTES
    TEXT_LENGTH = PROTO2_KEY_TEXT_LENGTH
    PROTOCOL = "proto2"


def parse_connect_key(text: str) -> Key | Proto2Key:
    """The key of a `MOSH CONNECT` line or a `MOSH_KEY`, of either protocol: its length says
    which (`key.PROTOCOL`, or the type). Raises `MalformedKey`."""
    stripped = text.strip()
    if len(stripped) == PROTO2_KEY_TEXT_LENGTH:
        return Proto2Key.from_text(stripped)
    if len(stripped) == KEY_TEXT_LENGTH:
        return Key.from_text(stripped)
    raise MalformedKey(
        f"a key is {KEY_TEXT_LENGTH} (native) or {PROTO2_KEY_TEXT_LENGTH} (mosh protocol 2)"
        f" characters of base64, this one has {len(stripped)}"
    )

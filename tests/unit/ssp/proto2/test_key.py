"""Protocol 2's key, the key parser for either protocol, and the native connection id's bit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssp.key import NATIVE_ID_BIT, Key, MalformedKey
from ssp.proto2.key import Proto2Key, parse_connect_key

REPO = Path(__file__).resolve().parents[4]
# What stock `mosh` wrappers accept: a key of any other length is refused by them.
STOCK_CONNECT = re.compile(r"^MOSH CONNECT (\d+?) ([A-Za-z0-9/+]{22})\s*$")


@given(st.binary(min_size=16, max_size=16))
def test_a_key_is_16_bytes_as_22_characters_stock_wrappers_accept(raw: bytes) -> None:
    key = Proto2Key(raw)
    assert len(key.text) == 22 and "=" not in key.text
    assert STOCK_CONNECT.match(f"MOSH CONNECT 60001 {key.text}\n")
    assert Proto2Key.from_text(key.text) == key
    assert parse_connect_key(f" {key.text}\n") == key


def test_known_key_text() -> None:
    assert Proto2Key(bytes(range(16))).text == "AAECAwQFBgcICQoLDA0ODw"
    assert Proto2Key.from_text("AAECAwQFBgcICQoLDA0ODw").raw == bytes(range(16))


@pytest.mark.parametrize(
    "text",
    [
        "AAECAwQFBgcICQoLDA0ODw==",  # padded
        "AAECAwQFBgcICQoLDA0OD",  # 21 characters
        "AAECAwQFBgcICQoLDA0ODw0",  # 23
        "AAECAwQFBgcICQoLDA0OD!",  # not base64
        "AAECAwQFBgcICQoLDA0ODx",  # the last character's unused bits set: not canonical
    ],
)
def test_malformed_keys_are_refused(text: str) -> None:
    with pytest.raises(MalformedKey):
        Proto2Key.from_text(text)


def test_wrong_length_raw_key_is_refused() -> None:
    with pytest.raises(MalformedKey, match="16 bytes"):
        Proto2Key(bytes(32))


def test_parse_connect_key_tells_the_protocols_apart() -> None:
    native, stock = Key.generate(), Proto2Key.generate()
    parsed_native = parse_connect_key(native.text)
    parsed_stock = parse_connect_key(stock.text)
    assert type(parsed_native) is Key and parsed_native == native
    assert type(parsed_stock) is Proto2Key and parsed_stock == stock
    assert (parsed_native.PROTOCOL, parsed_stock.PROTOCOL) == ("native", "proto2")
    for bad in ("", "abc", stock.text + "A", native.text[:-1], stock.text[:-1] + "!"):
        with pytest.raises(MalformedKey):
            parse_connect_key(bad)


def test_keys_of_the_two_protocols_never_compare_equal() -> None:
    stock = Proto2Key(bytes(16))
    assert stock != Key(bytes(32)) and stock == Proto2Key(bytes(16))
    assert hash(stock) == hash(Proto2Key(bytes(16)))
    assert "AAAA" not in repr(stock) and repr(stock) == "Proto2Key(<secret>)"


@given(st.binary(min_size=32, max_size=32))
def test_native_connection_ids_have_the_top_bit_set(raw: bytes) -> None:
    assert Key(raw).connection_id() & NATIVE_ID_BIT
    assert Key(raw).connection_id().to_bytes(8, "big")[0] & 0x80


def test_reading_a_key_loads_no_cipher() -> None:
    # The `mosh` wrapper parses `MOSH CONNECT` keys; it must not pay for PyNaCl or cryptography.
    code = (
        "import sys; from ssp.proto2.key import parse_connect_key\n"
        "parse_connect_key('AAECAwQFBgcICQoLDA0ODw')\n"
        "print(sorted({m.partition('.')[0] for m in sys.modules} & {'nacl', 'cryptography'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "[]"

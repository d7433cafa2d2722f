"""moshd.control.validation: parsing request lines, and requests surviving the wire."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moshd.control import messages, validation
from moshd.control.errors import ProtocolError
from moshd.control.framing import MAX_LINE_BYTES
from moshd.control.messages import (
    AttachRequest,
    KillRequest,
    ListRequest,
    NewRequest,
    Request,
    StatusRequest,
)
from moshd.control.validation import parse_request
from moshd.ports import PortRange

# --------------------------------------------------------------------------------------------
# Parsing requests


def line(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def test_new_request_with_every_field() -> None:
    request = parse_request(
        line(
            {
                "op": "new",
                "command": ["vim", "notes.txt"],
                "env": {"LANG": "en_US.UTF-8", "LC_TIME": "C"},
                "width": 132,
                "height": 50,
                "colors": 256,
                "bind_ip": "192.0.2.7",
                "port": "60001:60010",
                "verbose": True,
            }
        )
    )
    assert request == NewRequest(
        command=["vim", "notes.txt"],
        env={"LANG": "en_US.UTF-8", "LC_TIME": "C"},
        width=132,
        height=50,
        colors=256,
        bind_ip="192.0.2.7",
        port=PortRange(60001, 60010),
        verbose=True,
    )


@pytest.mark.parametrize("protocol", ["native", "proto2"])
def test_new_request_carries_the_protocol(protocol: str) -> None:
    request = NewRequest(command=["sh"], protocol=protocol)
    assert parse_request(messages.encode_line(messages.request_to_json(request))) == request


def test_a_new_request_without_a_protocol_is_native_and_an_unknown_one_is_refused() -> None:
    # An older mosh-server sends none: it printed native keys for our client.
    assert parse_request(b'{"op": "new"}') == NewRequest(protocol="native")
    with pytest.raises(ProtocolError, match="protocol"):
        parse_request(b'{"op": "new", "protocol": "ssh"}')
    with pytest.raises(ProtocolError, match="protocol"):
        parse_request(b'{"op": "new", "protocol": 2}')


def test_new_request_defaults() -> None:
    assert parse_request(b'{"op": "new"}') == NewRequest()
    explicit_nulls = {
        "op": "new",
        "command": None,
        "env": None,
        "width": None,
        "height": None,
        "colors": None,
        "bind_ip": None,
        "port": None,
        "verbose": None,
    }
    request = parse_request(line(explicit_nulls))
    assert request == NewRequest()
    assert isinstance(request, NewRequest)
    assert (request.width, request.height, request.command) == (80, 24, None)


def test_other_ops() -> None:
    assert parse_request(b'{"op": "list"}') == ListRequest()
    assert parse_request(b'{"op": "status"}\n') == StatusRequest()
    assert parse_request(b'{"op": "kill", "session_id": "abc"}') == KillRequest("abc")
    assert parse_request(b'{"op": "attach", "session_id": "abc"}') == AttachRequest("abc")
    assert parse_request(b'{"op": "attach"}') == AttachRequest(None)  # the only detached one
    assert parse_request(b'{"op": "attach", "session_id": null}') == AttachRequest(None)
    with pytest.raises(ProtocolError, match='"session_id" must be a string'):
        parse_request(b'{"op": "attach", "session_id": 7}')


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    assert parse_request(b'{"op": "list", "since": 5}') == ListRequest()


def test_ipv6_bind_address() -> None:
    request = parse_request(b'{"op": "new", "bind_ip": "2001:db8::1"}')
    assert isinstance(request, NewRequest)
    assert request.bind_ip == "2001:db8::1"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object, not a list"),
        (b'"new"', "must be a JSON object, not a string"),
        (b"{}", 'no "op" field'),
        (b'{"op": "explode"}', "unknown op 'explode'"),
        (b'{"op": 3}', "unknown op 3"),
        (b'{"op": "kill"}', 'no "session_id" field'),
        (b'{"op": "kill", "session_id": 7}', '"session_id" must be a string, not a number'),
        (b'{"op": "new", "command": "bash"}', '"command" must be a list, not a string'),
        (b'{"op": "new", "command": []}', '"command" must not be empty'),
        (b'{"op": "new", "command": ["ls", 1]}', '"command" must be a list of strings'),
        (b'{"op": "new", "command": ["a\\u0000b"]}', "NUL"),
        (b'{"op": "new", "env": ["LANG=C"]}', '"env" must be an object, not a list'),
        (b'{"op": "new", "env": {"LANG": 1}}', "\"env\" values must be strings, 'LANG'"),
        (b'{"op": "new", "env": {"A=B": "x"}}', "invalid variable name"),
        (b'{"op": "new", "env": {"": "x"}}', "invalid variable name"),
        (b'{"op": "new", "width": "80"}', '"width" must be an integer, not a string'),
        (b'{"op": "new", "width": true}', '"width" must be an integer, not a boolean'),
        (b'{"op": "new", "width": 80.5}', '"width" must be an integer, not a number'),
        (b'{"op": "new", "height": 0}', '"height" must be between 1 and 4096, not 0'),
        (b'{"op": "new", "width": 100000}', '"width" must be between 1 and 4096'),
        (b'{"op": "new", "colors": -1}', '"colors" must be between 0 and'),
        (b'{"op": "new", "bind_ip": "example.com"}', '"bind_ip" is not an IP address'),
        (b'{"op": "new", "bind_ip": 1}', '"bind_ip" must be a string'),
        (b'{"op": "new", "port": 60001}', '"port" must be a string, not a number'),
        (b'{"op": "new", "port": "0:9"}', "outside 1..65535"),
        (b'{"op": "new", "verbose": "yes"}', '"verbose" must be a boolean, not a string'),
        (b'{"op": "new", "verbose": 1}', '"verbose" must be a boolean, not a number'),
    ],
)
def test_bad_requests_are_explained(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_request(raw)
    assert message in str(caught.value)
    assert caught.value.code == "bad_request"


def test_line_length_limit() -> None:
    padding = "x" * (MAX_LINE_BYTES - 40)
    assert parse_request(line({"op": "list", "pad": padding})) == ListRequest()
    with pytest.raises(ProtocolError, match=f"longer than {MAX_LINE_BYTES} bytes"):
        parse_request(line({"op": "list", "pad": padding + "x" * 100}))


_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), max_size=20
)
_env_names = _text.filter(lambda name: name != "" and "=" not in name)
_ports = st.integers(1, 65535)
_new_requests = st.builds(
    NewRequest,
    command=st.none() | st.lists(_text, min_size=1, max_size=4),
    env=st.dictionaries(_env_names, _text, max_size=4),
    width=st.integers(1, validation.MAX_DIMENSION),
    height=st.integers(1, validation.MAX_DIMENSION),
    colors=st.none() | st.integers(0, validation.MAX_COLORS),
    bind_ip=st.none() | st.ip_addresses().map(str),
    port=st.none() | st.tuples(_ports, _ports).map(lambda pair: PortRange(min(pair), max(pair))),
    verbose=st.booleans(),
)
_requests: st.SearchStrategy[Request] = (
    _new_requests
    | st.just(ListRequest())
    | st.just(StatusRequest())
    | _text.map(lambda session_id: KillRequest(session_id))
    | st.none().map(lambda _: AttachRequest())
    | _text.map(lambda session_id: AttachRequest(session_id))
)


@given(_requests)
def test_requests_survive_the_wire(request: Request) -> None:
    assert parse_request(messages.encode_line(messages.request_to_json(request))) == request


@given(st.binary(max_size=200))
def test_parse_request_raises_only_protocol_errors(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_request(raw)

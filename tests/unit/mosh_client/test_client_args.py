"""mosh-client's command line and environment."""

from __future__ import annotations

import pytest

from mosh_client.client_args import (
    ClientConfig,
    ClientUsageError,
    InfoRequest,
    parse_client_args,
    take_key,
    usage,
)
from ssp.crypto import Key

KEY = Key.generate()


def env(**extra: str) -> dict[str, str]:
    return {"MOSH_KEY": KEY.text, "TERM": "xterm", **extra}


def config(args: list[str], environ: dict[str, str] | None = None) -> ClientConfig:
    result = parse_client_args(args, env() if environ is None else environ)
    assert isinstance(result, ClientConfig)
    return result


def usage_error(args: list[str], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ClientUsageError) as info:
        parse_client_args(args, env() if environ is None else environ)
    message = str(info.value)
    assert message and "\n" not in message
    return message


def test_defaults() -> None:
    environ = env()
    assert parse_client_args(["192.0.2.7", "60001"], environ) == ClientConfig(
        host="192.0.2.7",
        port=60001,
        key=KEY,
        prediction="adaptive",
        escape_key=0x1E,
        title_prefix="[mosh] ",
        alternate_screen=True,
        verbose=0,
        predict_overwrite=False,
    )


def test_key_is_taken_out_of_the_environment() -> None:
    environ = env()
    config(["127.0.0.1", "60001"], environ)
    assert "MOSH_KEY" not in environ
    assert environ == {"TERM": "xterm"}


def test_key_is_not_in_repr() -> None:
    assert KEY.text not in repr(config(["127.0.0.1", "60001"]))


@pytest.mark.parametrize("host", ["::1", "fe80::1%eth0", "2001:db8::42", "10.0.0.1"])
def test_numeric_addresses(host: str) -> None:
    assert config([host, "1"]).host == host


@pytest.mark.parametrize("host", ["example.com", "localhost", "", "[::1]", "1.2.3", "300.1.1.1"])
def test_names_and_junk_are_refused(host: str) -> None:
    assert "Bad IP address" in usage_error([host, "60001"])


@pytest.mark.parametrize("port", ["1", "65535", "060001"])
def test_ports(port: str) -> None:
    assert config(["127.0.0.1", port]).port == int(port)


@pytest.mark.parametrize("port", ["0", "65536", "", "-1", "+5", "60001x", " 1", "６０", "²"])
def test_bad_ports(port: str) -> None:
    assert "Bad UDP port" in usage_error(["--", "127.0.0.1", port])


def test_negative_port_is_an_unknown_option() -> None:
    assert "option -1 not recognized" in usage_error(["127.0.0.1", "-1"])


@pytest.mark.parametrize("args", [[], ["127.0.0.1"], ["127.0.0.1", "1", "2"]])
def test_wrong_number_of_arguments(args: list[str]) -> None:
    assert "expected IP and PORT" in usage_error(args)


def test_unknown_option() -> None:
    assert "-x" in usage_error(["-x", "127.0.0.1", "1"])


def test_hash_option_is_ignored_in_all_forms() -> None:
    # The mosh wrapper passes one argument "-# host cmd |"; getopt also takes "-#" "value".
    assert config(["-# example.org ls |", "127.0.0.1", "1"]).port == 1
    assert config(["-#", "example.org", "127.0.0.1", "1"]).port == 1
    assert "requires argument" in usage_error(["127.0.0.1", "1", "-#"])


def test_verbose_counts() -> None:
    assert config(["-v", "127.0.0.1", "1"]).verbose == 1
    assert config(["-vv", "-v", "127.0.0.1", "1"]).verbose == 3


def test_options_after_arguments_as_gnu_getopt() -> None:
    assert config(["127.0.0.1", "1", "-v"]).verbose == 1


def test_double_dash_ends_options() -> None:
    assert "Bad IP address" in usage_error(["--", "-v", "1"])


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (["--help"], "help"),
        (["--version"], "version"),
        (["127.0.0.1", "1", "--help"], "help"),  # anywhere, as upstream
        (["-x", "--version"], "version"),  # before options are even looked at
        (["-c"], "colors"),
        (["-c", "junk"], "colors"),
    ],
)
def test_info_requests(args: list[str], what: str) -> None:
    assert parse_client_args(args, {}) == InfoRequest(what)  # type: ignore[arg-type]


def test_info_requests_do_not_need_a_key() -> None:
    assert parse_client_args(["-c"], {}) == InfoRequest("colors")


def test_missing_key() -> None:
    assert usage_error(["127.0.0.1", "1"], {}) == "MOSH_KEY environment variable not found."


@pytest.mark.parametrize("text", ["", "short", "!" * 43, KEY.text + "A"])
def test_malformed_key(text: str) -> None:
    environ = {"MOSH_KEY": text}
    assert "MOSH_KEY is not a valid session key" in usage_error(["127.0.0.1", "1"], environ)
    assert "MOSH_KEY" not in environ  # even a bad key does not linger


def test_take_key() -> None:
    environ = {"MOSH_KEY": KEY.text, "HOME": "/root"}
    assert take_key(environ) == KEY
    assert environ == {"HOME": "/root"}
    with pytest.raises(ClientUsageError):
        take_key(environ)


@pytest.mark.parametrize("mode", ["adaptive", "always", "never", "experimental"])
def test_prediction_modes(mode: str) -> None:
    assert config(["::1", "1"], env(MOSH_PREDICTION_DISPLAY=mode)).prediction == mode


@pytest.mark.parametrize("mode", ["", "Always", "sometimes", " never"])
def test_bad_prediction_mode(mode: str) -> None:
    message = usage_error(["::1", "1"], env(MOSH_PREDICTION_DISPLAY=mode))
    assert message.startswith("Unknown prediction mode")


def test_prediction_overwrite() -> None:
    assert config(["::1", "1"], env(MOSH_PREDICTION_OVERWRITE="yes")).predict_overwrite
    assert not config(["::1", "1"], env(MOSH_PREDICTION_OVERWRITE="1")).predict_overwrite


@pytest.mark.parametrize(
    ("value", "key"), [("~", ord("~")), ("", None), ("\x02", 2), ("\x03", 0x1E), ("ab", 0x1E)]
)
def test_escape_key(value: str, key: int | None) -> None:
    assert config(["::1", "1"], env(MOSH_ESCAPE_KEY=value)).escape_key == key


@pytest.mark.parametrize("value", ["1", ""])
def test_title_noprefix_when_set_at_all(value: str) -> None:
    assert config(["::1", "1"], env(MOSH_TITLE_NOPREFIX=value)).title_prefix == ""


@pytest.mark.parametrize("value", ["1", ""])
def test_no_term_init_env(value: str) -> None:
    assert not config(["::1", "1"], env(MOSH_NO_TERM_INIT=value)).alternate_screen


def test_no_init_option() -> None:
    assert not config(["--no-init", "::1", "1"]).alternate_screen


def test_usage_text() -> None:
    text = usage("mosh-client")
    assert "IP PORT" in text
    assert "-c" in text

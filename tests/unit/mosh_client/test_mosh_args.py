"""`mosh`'s command line, checked against upstream's mosh.pl behaviour."""

from __future__ import annotations

import pytest

from mosh_client.cli import mosh_main
from mosh_client.mosh_args import (
    FAMILIES,
    FakeProxyRequest,
    InfoRequest,
    MoshOptions,
    MoshUsageError,
    parse_mosh_args,
    usage,
)


def options(*args: str, environ: dict[str, str] | None = None) -> MoshOptions:
    result = parse_mosh_args(list(args), environ or {})
    assert isinstance(result, MoshOptions)
    return result


def usage_error(*args: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(MoshUsageError) as info:
        parse_mosh_args(list(args), environ or {})
    message = str(info.value)
    assert message and "\n" not in message
    return message


def test_defaults() -> None:
    assert options("example.org") == MoshOptions(
        userhost="example.org",
        command=(),
        client=None,
        server=None,
        ssh=("ssh",),
        predict="adaptive",
        predict_overwrite=False,
        family="prefer-inet",
        port_request=None,
        bind_server="ssh",
        term_init=True,
        local=False,
        ssh_pty=True,
        remote_ip="proxy",
        argv=("example.org",),
    )


def test_user_and_host() -> None:
    parsed = options("alice@example.org")
    assert parsed.userhost == "alice@example.org"
    assert parsed.host == "example.org"
    assert options("a@b@host").host == "host"  # the last @ separates, as upstream's s/.*@//


def test_command_after_double_dash_keeps_its_options() -> None:
    parsed = options("host", "--", "ls", "-l", "--color")
    assert parsed.command == ("ls", "-l", "--color")


def test_command_without_options_needs_no_double_dash() -> None:
    assert options("host", "tmux", "attach").command == ("tmux", "attach")


def test_options_may_follow_the_host_as_upstream_permutes() -> None:
    parsed = options("host", "-p", "60001", "-n")
    assert parsed.port_request == "60001"
    assert parsed.predict == "never"
    assert parsed.command == ()


def test_a_remote_commands_option_without_double_dash_says_how_to_pass_it() -> None:
    message = usage_error("host", "ls", "-l")
    assert "-l" in message and "--" in message


def test_unknown_option() -> None:
    assert "--frobnicate" in usage_error("--frobnicate", "host")


def test_no_host() -> None:
    assert "host" in usage_error()
    assert "host" in usage_error("-a")


def test_client_and_server() -> None:
    parsed = options("--client=/opt/mosh-client", "--server", "env X=1 mosh-server", "h")
    assert parsed.client == "/opt/mosh-client"
    assert parsed.server == "env X=1 mosh-server"


def test_ssh_command_is_split_like_a_shell() -> None:
    parsed = options("--ssh=ssh -p 2222 -o 'ProxyJump=a b'", "h")
    assert parsed.ssh == ("ssh", "-p", "2222", "-o", "ProxyJump=a b")


def test_bad_ssh_commands() -> None:
    assert "quot" in usage_error("--ssh=ssh 'unterminated", "h")
    assert "empty" in usage_error("--ssh=  ", "h")


@pytest.mark.parametrize(
    ("args", "mode"),
    [
        (["--predict=adaptive"], "adaptive"),
        (["--predict=always"], "always"),
        (["--predict=never"], "never"),
        (["--predict=experimental"], "experimental"),
        (["-a"], "always"),
        (["-n"], "never"),
        (["-a", "-n"], "never"),  # the last one wins
        (["-n", "--predict=always"], "always"),
    ],
)
def test_prediction_options(args: list[str], mode: str) -> None:
    assert options(*args, "h").predict == mode


def test_prediction_from_the_environment() -> None:
    assert options("h", environ={"MOSH_PREDICTION_DISPLAY": "never"}).predict == "never"
    assert options("-a", "h", environ={"MOSH_PREDICTION_DISPLAY": "never"}).predict == "always"


def test_unknown_prediction_modes() -> None:
    message = usage_error("--predict=sometimes", "h")
    assert '"sometimes"' in message and "MOSH_PREDICTION_DISPLAY" not in message
    message = usage_error("h", environ={"MOSH_PREDICTION_DISPLAY": "Always"})
    assert "(MOSH_PREDICTION_DISPLAY in environment)" in message
    # An explicit option means the environment is never looked at.
    assert options("-n", "h", environ={"MOSH_PREDICTION_DISPLAY": "bogus"}).predict == "never"


def test_predict_overwrite() -> None:
    assert options("-o", "h").predict_overwrite
    assert options("--predict-overwrite", "h").predict_overwrite
    assert not options("-o", "--no-predict-overwrite", "h").predict_overwrite


@pytest.mark.parametrize("family", FAMILIES)
def test_families(family: str) -> None:
    assert options(f"--family={family}", "h").family == family
    assert options(f"--family={family.upper()}", "h").family == family  # upstream lc()s it


def test_family_shortcuts_and_errors() -> None:
    assert options("-4", "h").family == "inet"
    assert options("-6", "h").family == "inet6"
    assert options("-6", "-4", "h").family == "inet"
    assert "inet6" in usage_error("--family=ipx", "h")


@pytest.mark.parametrize("spec", ["60001", "0", "60000:60010", "1:65535", "5:5"])
def test_good_ports(spec: str) -> None:
    assert options("-p", spec, "h").port_request == spec
    assert options(f"--port={spec}", "h").port_request == spec


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("abc", "is not valid"),
        ("60000-60010", "is not valid"),
        ("-1", "is not valid"),
        ("٣", "is not valid"),  # an Arabic-Indic digit is not a port
        ("70000", "(low) port (70000)"),
        ("1:70000", "high port (70000)"),
        ("1:0", "high port (0)"),
        ("0:10", "starting port 0"),
        ("9:3", "low port greater than high port"),
    ],
)
def test_bad_ports(spec: str, complaint: str) -> None:
    assert complaint in usage_error(f"--port={spec}", "h")


def test_bind_server() -> None:
    assert options("h").bind_server == "ssh"
    assert options("--bind-server=SSH", "h").bind_server == "ssh"
    assert options("--bind-server=Any", "h").bind_server == "any"
    assert options("--bind-server=192.0.2.1", "h").bind_server == "192.0.2.1"
    assert options("--bind-server=2001:db8::0:1", "h").bind_server == "2001:db8::1"
    assert "binding" in usage_error("--bind-server=eth0", "h")


def test_no_init_and_ssh_pty() -> None:
    assert not options("--no-init", "h").term_init
    assert options("--no-init", "--init", "h").term_init
    assert not options("--no-ssh-pty", "h").ssh_pty
    assert options("--no-ssh-pty", "--ssh-pty", "h").ssh_pty


def test_local_needs_a_numeric_address() -> None:
    assert options("--local", "127.0.0.1").local
    assert options("--local", "::1").userhost == "::1"
    assert "numeric" in usage_error("--local", "localhost")
    assert "numeric" in usage_error("--local", "root@127.0.0.1")


def test_experimental_remote_ip() -> None:
    for mode in ("proxy", "local", "remote"):
        assert options(f"--experimental-remote-ip={mode}", "h").remote_ip == mode
    assert "proxy" in usage_error("--experimental-remote-ip=magic", "h")


def test_help_and_version_win_over_everything() -> None:
    assert parse_mosh_args(["--help"], {}) == InfoRequest("help")
    assert parse_mosh_args(["--version", "h"], {}) == InfoRequest("version")
    assert parse_mosh_args(["--help", "--predict=bogus"], {}) == InfoRequest("help")


def test_fake_proxy() -> None:
    request = parse_mosh_args(["--family=inet6", "--fake-proxy", "--", "host", "22"], {})
    assert request == FakeProxyRequest(host="host", port="22", family="inet6")
    assert "HOST and PORT" in usage_error("--fake-proxy", "--", "host")


def test_original_arguments_are_kept_for_ps() -> None:
    assert options("-a", "h", "--", "ls").argv == ("-a", "h", "--", "ls")


def test_usage_mentions_every_option() -> None:
    text = usage()
    for option in (
        "--client=",
        "--server=",
        "--predict=",
        "--predict-overwrite",
        "--family=prefer-inet6",
        "--port=",
        "--bind-server=",
        "--ssh=",
        "--no-ssh-pty",
        "--no-init",
        "--local",
        "--experimental-remote-ip=",
        "--help",
        "--version",
    ):
        assert option in text


def test_mosh_main_help_version_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert mosh_main(["--help"]) == 0
    assert "Usage: mosh" in capsys.readouterr().out
    assert mosh_main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("mosh (moshd ")
    assert mosh_main(["-p", "x", "host"]) == 255
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "mosh: Server-side port or range (x) is not valid.\n"


# --- --attach (issue #14) ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "attach"),
    [
        (["host"], None),
        (["--attach", "host"], ""),
        (["host", "--attach"], ""),  # options may follow the host
        (["--attach=ab12cd34", "u@host"], "ab12cd34"),
        (["--attach=", "host"], ""),
    ],
)
def test_attach_option(args: list[str], attach: str | None) -> None:
    parsed = options(*args)
    assert parsed.attach == attach
    assert parsed.userhost in ("host", "u@host") and parsed.command == ()


def test_attach_takes_no_command() -> None:
    assert "takes no command" in usage_error("--attach", "host", "--", "ls")


def test_a_bare_attach_after_the_double_dash_is_the_commands() -> None:
    parsed = options("host", "--", "echo", "--attach")
    assert parsed.attach is None and parsed.command == ("echo", "--attach")


def test_attach_is_in_the_usage() -> None:
    assert "--attach[=ID]" in usage()

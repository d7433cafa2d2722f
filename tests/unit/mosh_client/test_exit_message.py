"""What the client says once the terminal is restored (mosh_client.app.exit_message)."""

from __future__ import annotations

import pytest

from mosh_client.app import ExitStatus, exit_message, print_exit_message


def test_a_session_the_server_ended_says_mosh_is_exiting() -> None:
    status = ExitStatus(clean=True, ever_connected=True, server_ended=True)
    # Upstream's line, when the server gave no reason (a stock server never does).
    assert exit_message(status, "192.0.2.1", 60001) == "[mosh is exiting.]\n"


def test_the_servers_reason_is_told() -> None:
    status = ExitStatus(clean=True, ever_connected=True, server_ended=True, farewell="why")
    assert exit_message(status, "192.0.2.1", 60001) == "[mosh is exiting: why.]\n"


def test_the_user_quitting_cleanly_says_nothing() -> None:
    status = ExitStatus(clean=True, ever_connected=True, server_ended=False)
    assert exit_message(status, "192.0.2.1", 60001) is None


def test_nothing_received_names_every_likely_cause_not_just_the_firewall() -> None:
    message = exit_message(ExitStatus(), "192.0.2.1", 60001)
    assert message == (
        "\nmosh did not make a successful connection to 192.0.2.1:60001.\n"
        "No reply came from the server: the session may have ended or never existed,\n"
        "the key may be wrong, or a firewall may block UDP port 60001.\n"
    )


def test_an_unclean_end_keeps_upstreams_warning() -> None:
    message = exit_message(ExitStatus(clean=False, ever_connected=True), "192.0.2.1", 60001)
    assert message == (
        "\nmosh did not shut down cleanly. Please note that the\n"
        "mosh-server process may still be running on the server.\n"
    )


def test_print_exit_message_writes_the_line_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    print_exit_message(ExitStatus(clean=True, ever_connected=True, server_ended=True), "h", 1)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "[mosh is exiting.]\n")

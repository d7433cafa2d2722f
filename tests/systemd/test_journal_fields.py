"""The journal renderer: structlog events as native-protocol journal entries.

A fake journald (a Unix datagram socket in a temp dir) receives exactly what moshd sends,
so the bytes on the wire are checked here; a real journald reads them in test_user_systemd.
"""

from __future__ import annotations

import array
import io
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from moshd.journal import (
    SEND_TIMEOUT,
    JournalLogger,
    field_name,
    field_value,
    journal_fields,
)
from moshd.logging import configure_logging, default_log_format


@pytest.fixture
def fake_journald() -> Iterator[tuple[Path, socket.socket]]:
    with tempfile.TemporaryDirectory(prefix="moshd-jd-") as tmp:
        path = Path(tmp) / "socket"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.settimeout(5)
        yield path, sock
        sock.close()


def receive_entry(sock: socket.socket) -> bytes:
    """One entry as journald reads it: the datagram, or the memfd passed with SCM_RIGHTS."""
    data, ancillary, _flags, _addr = sock.recvmsg(1 << 20, socket.CMSG_SPACE(4))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fd = array.array("i", payload[:4])[0]
            with os.fdopen(fd, "rb") as memfd:
                memfd.seek(0)
                return memfd.read()
    return data


def parse_entry(entry: bytes) -> list[tuple[str, bytes]]:
    """The native protocol, read back as journald does (strictly: anything else fails)."""
    fields = []
    rest = entry
    while rest:
        line, newline, after = rest.partition(b"\n")
        assert newline, f"unterminated field in {entry!r}"
        if b"=" in line:
            key, _, value = line.partition(b"=")
            rest = after
        else:
            key = line
            size = int.from_bytes(after[:8], "little")
            value = after[8 : 8 + size]
            assert after[8 + size : 9 + size] == b"\n", "binary field not newline-terminated"
            rest = after[9 + size :]
        fields.append((key.decode(), value))
    return fields


def event(**fields: object) -> list[tuple[str, str]]:
    return journal_fields(None, "info", dict(fields))


# --- field names and values ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("session_id", "SESSION_ID"),
        ("old_peer", "OLD_PEER"),
        ("srtt_ms", "SRTT_MS"),
        ("bind-ip", "BIND_IP"),
        ("_pid", "PID"),  # "_" fields are journald's own, trusted ones
        ("2fa", "FIELD_2FA"),
        ("message", "FIELD_MESSAGE"),  # never overwrites ours
        ("priority", "FIELD_PRIORITY"),
        ("x" * 80, "X" * 64),
    ],
)
def test_field_names_are_upper_case_and_valid(key: str, name: str) -> None:
    assert field_name(key) == name


def test_field_values() -> None:
    assert field_value(42) == "42"
    assert field_value(12.5) == "12.5"
    assert field_value(True) == "true"
    assert field_value(["/bin/sh", "-c", "echo hi"]) == '["/bin/sh", "-c", "echo hi"]'
    assert field_value("déjà") == "déjà"


def test_an_event_becomes_queryable_fields() -> None:
    fields = journal_fields(
        None,
        "info",
        {
            "event": "session.roamed",
            "session_id": "ab12cd34",
            "old_peer": "127.0.0.1:40000",
            "new_peer": "127.0.0.2:40001",
            "level": "info",
            "timestamp": "2026-01-01T00:00:00Z",
            "exit_status": None,
        },
    )
    assert fields == [
        (
            "MESSAGE",
            "session.roamed session_id=ab12cd34 old_peer=127.0.0.1:40000 new_peer=127.0.0.2:40001",
        ),
        ("PRIORITY", "6"),
        ("SYSLOG_IDENTIFIER", "moshd"),
        ("EVENT", "session.roamed"),
        ("SESSION_ID", "ab12cd34"),
        ("OLD_PEER", "127.0.0.1:40000"),
        ("NEW_PEER", "127.0.0.2:40001"),
    ]


def test_the_message_reads_like_logfmt() -> None:
    fields = dict(
        event(
            event="session.created",
            command=["/bin/sh", "-c", "echo hi"],
            reason="a b",
            pid=7,
            title="",
        )
    )
    assert fields["MESSAGE"] == (
        'session.created command=["/bin/sh", "-c", "echo hi"] reason="a b" pid=7 title=""'
    )
    assert fields["COMMAND"] == '["/bin/sh", "-c", "echo hi"]'


@pytest.mark.parametrize(
    ("level", "priority"),
    [("debug", "7"), ("info", "6"), ("warning", "4"), ("error", "3"), ("critical", "2")],
)
def test_priority_follows_the_level(level: str, priority: str) -> None:
    fields = dict(journal_fields(None, level, {"event": "x", "level": level}))
    assert fields["PRIORITY"] == priority


# --- on the wire --------------------------------------------------------------------------------
def test_short_values_are_key_equals_value_lines(fake_journald: tuple[Path, socket.socket]) -> None:
    path, sock = fake_journald
    logger = JournalLogger(path)
    logger.msg([("MESSAGE", "hello"), ("SESSION_ID", "ab12"), ("RTT_MS", "12.5")])
    assert receive_entry(sock) == b"MESSAGE=hello\nSESSION_ID=ab12\nRTT_MS=12.5\n"
    logger.close()


def test_multi_line_values_use_the_length_prefixed_form(
    fake_journald: tuple[Path, socket.socket],
) -> None:
    path, sock = fake_journald
    logger = JournalLogger(path)
    logger.msg([("MESSAGE", "line one\nline two"), ("EVENT", "x")])
    value = b"line one\nline two"
    assert receive_entry(sock) == (
        b"MESSAGE\n" + len(value).to_bytes(8, "little") + value + b"\nEVENT=x\n"
    )
    logger.close()


def test_an_entry_too_big_for_a_datagram_goes_in_a_memfd(
    fake_journald: tuple[Path, socket.socket],
) -> None:
    path, sock = fake_journald
    logger = JournalLogger(path)
    big = "x" * (4 << 20)  # above any datagram size limit: EMSGSIZE, then the memfd
    logger.msg([("MESSAGE", big), ("EVENT", "big")])
    assert parse_entry(receive_entry(sock)) == [("MESSAGE", big.encode()), ("EVENT", b"big")]
    logger.close()


def test_structlog_events_reach_the_journal_with_their_context(
    fake_journald: tuple[Path, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, sock = fake_journald
    monkeypatch.setattr("moshd.journal.JOURNAL_SOCKET", path)
    assert configure_logging("journal", "info") == "journal"
    try:
        log = structlog.get_logger("moshd.session").bind(session_id="ab12cd34")
        log.info("session.rtt", srtt_ms=41.5, rttvar_ms=3.0, rtt_ms=40.0, peer="127.0.0.1:5")
        log.debug("not.sent")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("session.failed")
        rtt = dict(parse_entry(receive_entry(sock)))
        failed = dict(parse_entry(receive_entry(sock)))
    finally:
        configure_logging("json", "info", io.StringIO())
    assert rtt["EVENT"] == b"session.rtt"
    assert rtt["SESSION_ID"] == b"ab12cd34"
    assert rtt["SRTT_MS"] == b"41.5"
    assert rtt["RTT_MS"] == b"40.0"
    assert rtt["PEER"] == b"127.0.0.1:5"
    assert rtt["PRIORITY"] == b"6"
    assert rtt["SYSLOG_IDENTIFIER"] == b"moshd"
    assert failed["EVENT"] == b"session.failed"
    assert failed["PRIORITY"] == b"3"
    assert b"RuntimeError: boom" in failed["MESSAGE"]  # the traceback, readable in journalctl


def test_sends_are_bounded_and_survive_a_journald_restart(
    fake_journald: tuple[Path, socket.socket],
) -> None:
    path, sock = fake_journald
    logger = JournalLogger(path)
    assert logger._transport.socket.gettimeout() == SEND_TIMEOUT
    sock.close()
    path.unlink()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as restarted:
        restarted.bind(str(path))  # a new journald, a new socket at the same path
        restarted.settimeout(5)
        logger.msg([("MESSAGE", "after restart"), ("EVENT", "x")])
        assert receive_entry(restarted) == b"MESSAGE=after restart\nEVENT=x\n"
        assert logger._transport.socket.gettimeout() == SEND_TIMEOUT
    logger.close()


def test_when_journald_is_gone_entries_fall_back_to_stderr(
    fake_journald: tuple[Path, socket.socket],
) -> None:
    path, sock = fake_journald
    fallback = io.StringIO()
    logger = JournalLogger(path, fallback=fallback)
    sock.close()
    path.unlink()
    logger.msg([("MESSAGE", "still here"), ("EVENT", "x")])
    assert '"MESSAGE": "still here"' in fallback.getvalue()
    assert "journal_error" in fallback.getvalue()


def test_without_journald_configure_logging_falls_back_to_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("moshd.journal.JOURNAL_SOCKET", Path("/nonexistent/socket"))
    out = io.StringIO()
    try:
        assert configure_logging("journal", "info", out) == "json"
        structlog.get_logger().info("daemon.ready")
    finally:
        configure_logging("json", "info", io.StringIO())
    assert "cannot log to journald" in out.getvalue()
    assert '"event": "daemon.ready"' in out.getvalue()


def test_default_log_format(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_log_format(True, True, {}) == "console"
    assert default_log_format(False, True, {}) == "journal"
    assert default_log_format(False, False, {}) == "json"


def test_journal_stream_counts_only_when_it_names_our_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with open(os.devnull, "w") as stderr:
        monkeypatch.setattr("sys.stderr", stderr)
        info = os.fstat(stderr.fileno())
        ours = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        inherited = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino + 1}"}
        assert default_log_format(False, False, ours) == "journal"
        assert default_log_format(False, False, inherited) == "json"
        assert default_log_format(False, False, {"JOURNAL_STREAM": "junk"}) == "json"

"""moshd.pty: real children on real PTYs, and the environment rules with fake `locale -a`."""

from __future__ import annotations

import os
import pwd
import signal
from collections.abc import Iterator

import pytest
import trio

from moshd import pty
from moshd.pty import PtyChild, build_child_environment, spawn

TIMEOUT = 10.0
LOCALES = ["C", "C.utf8", "POSIX", "en_US.utf8", "de_DE", "de_DE.iso88591", "fr_FR.utf8@euro"]


def child_env() -> dict[str, str]:
    return build_child_environment(os.environ, {}, available_locales=LOCALES)


async def read_until(child: PtyChild, needle: bytes, timeout: float = TIMEOUT) -> bytes:
    """Read output until `needle` appears (fail after `timeout`)."""
    output = b""
    with trio.fail_after(timeout):
        while needle not in output:
            chunk = await child.read()
            if not chunk:
                break
            output += chunk
    assert needle in output, output
    return output


async def read_all(child: PtyChild) -> bytes:
    """Everything the child writes until its terminal goes away."""
    output = b""
    with trio.fail_after(TIMEOUT):
        while chunk := await child.read():
            output += chunk
    return output


@pytest.fixture
def children() -> Iterator[list[PtyChild]]:
    """Spawned children, killed and closed whatever the test does."""
    spawned: list[PtyChild] = []
    yield spawned
    for child in spawned:
        child.kill()
        child.close()
        child.process.wait(timeout=TIMEOUT)


def start(children: list[PtyChild], script: str, width: int = 80, height: int = 24) -> PtyChild:
    child = spawn(["sh", "-c", script], child_env(), width, height)
    children.append(child)
    return child


# --------------------------------------------------------------------------------------------
# Spawning


@pytest.mark.trio
async def test_child_runs_on_the_pty_with_the_requested_size_and_term(
    children: list[PtyChild],
) -> None:
    child = start(children, "tty; stty size; echo TERM=$TERM", width=101, height=37)
    output = (await read_all(child)).decode()
    lines = output.split("\r\n")
    assert lines[0].startswith("/dev/pts/"), output
    assert lines[1] == "37 101"
    assert lines[2] == "TERM=xterm-256color"
    assert await child.wait_exit() == 0


@pytest.mark.trio
async def test_pty_is_the_controlling_terminal(children: list[PtyChild]) -> None:
    # With stdin moved away, `tty` on stderr and `ps` still name the pty, and /dev/tty opens:
    # all three require a controlling terminal, not merely inherited fds.
    script = (
        "exec 0</dev/null; tty <&2; ps -o tty= -p $$; echo via-dev-tty >/dev/tty; "
        "echo started; read line <&2"
    )
    child = start(children, script)
    output = (await read_until(child, b"started")).decode()
    tty_name, ps_tty, dev_tty_line = output.split("\r\n")[:3]
    assert tty_name.startswith("/dev/pts/")
    assert ps_tty.strip() == tty_name.removeprefix("/dev/")
    assert dev_tty_line == "via-dev-tty"

    stat_fields = _proc_stat(child.pid)
    slave_rdev = os.stat(tty_name).st_rdev
    assert stat_fields["tty_nr"] == slave_rdev  # controlling terminal = our pty's slave
    assert stat_fields["session"] == child.pid  # a session leader
    assert stat_fields["pgrp"] == child.pid
    assert stat_fields["tpgid"] == child.pid  # and the terminal's foreground group
    await child.write(b"\n")
    assert await child.wait_exit() == 0


def _proc_stat(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/stat") as stat_file:
        after_name = stat_file.read().rsplit(")", 1)[1].split()
    # fields 3.. of proc(5): state ppid pgrp session tty_nr tpgid
    return {
        "pgrp": int(after_name[2]),
        "session": int(after_name[3]),
        "tty_nr": int(after_name[4]),
        "tpgid": int(after_name[5]),
    }


@pytest.mark.trio
async def test_resize_delivers_sigwinch_with_the_new_size(children: list[PtyChild]) -> None:
    child = start(children, "trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done")
    await read_until(child, b"ready")
    child.set_window_size(132, 50)
    await read_until(child, b"50 132")


@pytest.mark.trio
async def test_hangup_ends_a_shell(children: list[PtyChild]) -> None:
    child = start(children, "echo ready; while :; do sleep 0.05; done")
    await read_until(child, b"ready")
    child.hangup()
    with trio.fail_after(TIMEOUT):
        status = await child.wait_exit()
    assert status == -signal.SIGHUP


@pytest.mark.trio
async def test_hangup_reaches_the_foreground_job_in_its_own_group(
    children: list[PtyChild],
) -> None:
    # An interactive shell puts `sleep` in its own process group as the foreground job, which a
    # hangup must also reach (the shell itself stays alive only if it ignores SIGHUP).
    child = spawn(["sh", "-i"], child_env(), 80, 24)
    children.append(child)
    await child.write(b"sleep 100; echo sleep-ended\n")
    with trio.fail_after(TIMEOUT):
        while os.tcgetpgrp(child.master_fd) in (0, child.pid):  # 0: no session attached yet
            await trio.sleep(0.01)
    foreground = os.tcgetpgrp(child.master_fd)
    child.hangup()
    with trio.fail_after(TIMEOUT):
        await child.wait_exit()
        while _process_group_alive(foreground):
            await trio.sleep(0.01)


def _process_group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.trio
async def test_kill_ends_a_child_that_ignores_hangup(children: list[PtyChild]) -> None:
    child = start(children, "trap '' HUP; echo ready; while :; do sleep 0.05; done")
    await read_until(child, b"ready")
    child.hangup()
    await trio.sleep(0.2)
    assert child.poll_exit() is None
    child.kill()
    with trio.fail_after(TIMEOUT):
        assert await child.wait_exit() == -signal.SIGKILL


@pytest.mark.trio
async def test_exit_status_and_eof_after_exit(children: list[PtyChild]) -> None:
    child = start(children, "echo bye; exit 3")
    assert b"bye" in await read_all(child)
    assert await child.read() == b""  # still EOF, not an exception
    assert await child.wait_exit() == 3
    assert child.poll_exit() == 3


@pytest.mark.trio
async def test_input_written_to_the_master_reaches_the_child(children: list[PtyChild]) -> None:
    child = start(children, "read line; echo got:$line")
    await child.write(b"hello\n")
    assert b"got:hello" in await read_all(child)


@pytest.mark.trio
async def test_argv0_is_what_the_program_sees(children: list[PtyChild]) -> None:
    child = spawn(
        ["/bin/sh", "-c", 'tr "\\0" " " </proc/$$/cmdline; echo'],
        child_env(),
        80,
        24,
        argv0="-loginish",
    )
    children.append(child)
    assert (await read_all(child)).startswith(b"-loginish -c ")


@pytest.mark.trio
async def test_cwd_is_honoured(children: list[PtyChild], tmp_path: os.PathLike[str]) -> None:
    child = spawn(["sh", "-c", "pwd"], child_env(), 80, 24, cwd=os.fspath(tmp_path))
    children.append(child)
    assert os.fspath(tmp_path).encode() in await read_all(child)


@pytest.mark.trio
async def test_daemon_signal_state_does_not_leak_into_the_child(
    children: list[PtyChild],
) -> None:
    # Exec keeps ignored signals and the signal mask; the daemon may ignore SIGHUP or block
    # signals in the thread that spawns, and the user's shell must not inherit either.
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGWINCH})
    try:
        # grep itself is what the trampoline execs: its state is exactly what was inherited.
        child = spawn(["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"], child_env(), 80, 24)
        children.append(child)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        signal.signal(signal.SIGHUP, previous)
    output = (await read_all(child)).decode()
    assert "SigBlk:\t0000000000000000" in output
    ignored = int(output.split("SigIgn:\t")[1].split()[0], 16)
    assert not ignored & (1 << (signal.SIGHUP - 1))
    assert not ignored & (1 << (signal.SIGPIPE - 1))


@pytest.mark.trio
async def test_master_is_non_blocking_and_not_inherited(children: list[PtyChild]) -> None:
    child = start(children, "read line")
    assert not os.get_blocking(child.master_fd)
    assert not os.get_inheritable(child.master_fd)
    await child.write(b"\n")


def test_missing_program_raises_before_spawning() -> None:
    fds_before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(FileNotFoundError):
        spawn(["no-such-program-moshd-test"], {"PATH": "/usr/bin:/bin"}, 80, 24)
    with pytest.raises(FileNotFoundError):
        spawn(["/nonexistent/program"], {}, 80, 24)
    with pytest.raises(ValueError, match="empty"):
        spawn([], {}, 80, 24)
    assert set(os.listdir("/proc/self/fd")) == fds_before


def test_resolve_program_uses_the_child_path(tmp_path: os.PathLike[str]) -> None:
    program = os.path.join(tmp_path, "hello")
    with open(program, "w") as script:
        script.write("#!/bin/sh\n")
    os.chmod(program, 0o755)
    assert pty.resolve_program("hello", os.fspath(tmp_path)) == program
    assert pty.resolve_program(program, None) == program
    with pytest.raises(FileNotFoundError):
        pty.resolve_program("hello", "/usr/bin")
    with pytest.raises(FileNotFoundError):
        pty.resolve_program(os.fspath(tmp_path), None)  # a directory is not a program


def test_close_is_idempotent_outside_trio() -> None:
    child = spawn(["sh", "-c", "exit 0"], child_env(), 80, 24)
    child.process.wait(timeout=TIMEOUT)
    child.close()
    child.close()
    child.hangup()  # after exit and close: harmless
    assert child.poll_exit() == 0


# --------------------------------------------------------------------------------------------
# Login shell


def _passwd(shell: str) -> pwd.struct_passwd:
    return pwd.struct_passwd(("alice", "x", 1000, 1000, "Alice", "/home/alice", shell))


def test_login_shell_argv0_has_a_dash_like_mosh_server() -> None:
    assert pty.login_shell_command(_passwd("/bin/bash")) == (["-bash"], "/bin/bash")
    assert pty.login_shell_command(_passwd("/usr/local/bin/fish")) == (
        ["-fish"],
        "/usr/local/bin/fish",
    )


def test_empty_shell_field_means_bin_sh() -> None:
    assert pty.login_shell_command(_passwd("")) == (["-sh"], "/bin/sh")


def test_login_shell_defaults_to_the_current_user() -> None:
    argv, executable = pty.login_shell_command()
    assert argv[0] == "-" + os.path.basename(executable)


@pytest.mark.trio
async def test_login_shell_spawned_sees_a_dash_argv0(children: list[PtyChild]) -> None:
    argv, executable = pty.login_shell_command(_passwd("/bin/sh"))
    child = spawn([executable, *argv[1:]], child_env(), 80, 24, argv0=argv[0])
    children.append(child)
    await child.write(b"echo zero=$0; exit\n")
    assert b"zero=-sh" in await read_all(child)


def test_term_for_colors() -> None:
    assert pty.term_for_colors(None) == "xterm-256color"
    assert pty.term_for_colors(256) == "xterm-256color"
    assert pty.term_for_colors(16777216) == "xterm-256color"
    assert pty.term_for_colors(8) == "xterm"


# --------------------------------------------------------------------------------------------
# Environment


def build(
    base: dict[str, str], client: dict[str, str] | None = None, term: str = "xterm-256color"
) -> dict[str, str]:
    return build_child_environment(base, client or {}, term, available_locales=LOCALES)


def test_daemon_variables_are_removed() -> None:
    base = {
        "HOME": "/home/alice",
        "PATH": "/usr/bin",
        "LANG": "en_US.UTF-8",
        "NOTIFY_SOCKET": "/run/user/1000/systemd/notify",
        "LISTEN_PID": "1",
        "LISTEN_FDS": "1",
        "LISTEN_FDNAMES": "control",
        "WATCHDOG_USEC": "30000000",
        "WATCHDOG_PID": "1",
        "INVOCATION_ID": "abc",
        "JOURNAL_STREAM": "8:123",
        "MANAGERPID": "700",
        "MOSH_KEY": "secret",
        "MOSH_SERVER_NETWORK_TMOUT": "600",
        "MOSH_SERVER_SIGNAL_TMOUT": "60",
        "MOSHD_LOG_FORMAT": "json",
        "SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22",
        "SSH_CLIENT": "1.2.3.4 5 22",
        "SSH_TTY": "/dev/pts/3",
        "COLUMNS": "80",
        "LINES": "24",
        "STY": "123.pts-0.host",
    }
    env = build(base)
    assert env == {
        "HOME": "/home/alice",
        "PATH": "/usr/bin",
        "LANG": "en_US.UTF-8",
        "TERM": "xterm-256color",
        "NCURSES_NO_UTF8_ACS": "1",
    }


def test_term_and_extra() -> None:
    env = build({"LANG": "C.UTF-8", "TERM": "dumb"}, term="xterm")
    assert env["TERM"] == "xterm"
    env = build_child_environment(
        {"LANG": "C.UTF-8"}, {}, extra={"FOO": "bar"}, available_locales=LOCALES
    )
    assert env["FOO"] == "bar"


@pytest.mark.parametrize(
    "server_locale",
    [
        {"LANG": "en_US.UTF-8"},
        {"LANG": "en_US.utf8"},
        {"LC_CTYPE": "C.UTF-8", "LANG": "de_DE"},  # LC_CTYPE decides the character set
        {"LC_ALL": "fr_FR.UTF-8@euro"},
    ],
)
def test_server_utf8_locale_is_kept(server_locale: dict[str, str]) -> None:
    env = build({"HOME": "/h", **server_locale}, {"LANG": "C.UTF-8", "LC_TIME": "C"})
    assert {name: env[name] for name in server_locale} == server_locale
    assert "LC_ALL" not in env or "LC_ALL" in server_locale
    assert "LC_TIME" not in env  # the client's variables are not mixed in


@pytest.mark.parametrize(
    "server_locale",
    [
        {},
        {"LANG": "de_DE"},  # exists, not UTF-8
        {"LANG": "ja_JP.UTF-8"},  # UTF-8, not installed
        {"LANG": "en_US.UTF-8", "LC_ALL": "C"},  # LC_ALL overrides LANG
        {"LC_ALL": "", "LC_CTYPE": "POSIX", "LANG": "en_US.UTF-8"},  # empty LC_ALL is unset
    ],
)
def test_client_locale_used_when_server_has_no_usable_utf8(server_locale: dict[str, str]) -> None:
    client = {"LANG": "en_US.UTF-8", "LC_TIME": "de_DE", "PATH": "/evil"}
    env = build({"HOME": "/h", "LANGUAGE": "de", **server_locale}, client)
    assert env["LANG"] == "en_US.UTF-8"
    assert env["LC_TIME"] == "de_DE"
    assert "LC_ALL" not in env and "LC_CTYPE" not in env  # the server's are all replaced
    assert "LANGUAGE" not in env
    assert "PATH" not in env  # only locale variables are taken from the client


def test_client_lc_all_wins_over_its_lang() -> None:
    env = build({"LANG": "C"}, {"LC_ALL": "C.UTF-8", "LANG": "de_DE"})
    assert env["LC_ALL"] == "C.UTF-8"


@pytest.mark.parametrize(
    "client",
    [
        {},
        {"LANG": "ja_JP.UTF-8"},  # not installed here
        {"LANG": "de_DE.ISO-8859-1"},  # installed, not UTF-8
        {"LC_ALL": "C", "LANG": "en_US.UTF-8"},
    ],
)
def test_c_utf8_when_nobody_has_a_usable_utf8_locale(client: dict[str, str]) -> None:
    env = build({"LANG": "de_DE", "LC_MESSAGES": "de_DE"}, client)
    assert env["LC_ALL"] == "C.UTF-8"
    assert env["LANG"] == "de_DE"  # the server's other settings stay; LC_ALL overrides them


def test_c_utf8_fallback_even_if_locale_lists_nothing() -> None:
    env = build_child_environment({"LANG": "de_DE"}, {}, available_locales=[])
    assert env["LC_ALL"] == "C.UTF-8"


def test_input_mappings_are_not_modified() -> None:
    base = {"LANG": "C", "NOTIFY_SOCKET": "x"}
    client = {"LANG": "en_US.UTF-8"}
    build(base, client)
    assert base == {"LANG": "C", "NOTIFY_SOCKET": "x"}
    assert client == {"LANG": "en_US.UTF-8"}


# --------------------------------------------------------------------------------------------
# Locale names


def test_locale_list_parsing_normalizes_codesets() -> None:
    output = "C\nC.UTF-8\nen_GB.utf8\nPOSIX\nde_DE.ISO-8859-1\n\nsr_RS.UTF-8@latin\n"
    assert pty.parse_locale_list(output) == {
        "C",
        "C.utf8",
        "en_GB.utf8",
        "POSIX",
        "de_DE.iso88591",
        "sr_RS.utf8@latin",
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("en_US.UTF-8", True),
        ("en_US.utf8", True),
        ("en_US.Utf-8", True),
        ("C.UTF-8", True),
        ("fr_FR.UTF-8@euro", True),
        ("en_US", False),  # no codeset: not known to be UTF-8
        ("de_DE", False),
        ("de_DE.ISO-8859-1", False),
        ("ja_JP.UTF-8", False),  # not installed
        ("", False),
        ("en_us.UTF-8", False),  # language and territory are case-sensitive in glibc
    ],
)
def test_is_utf8_locale_available(name: str, expected: bool) -> None:
    assert pty.is_utf8_locale_available(name, LOCALES) is expected


def test_system_locales_is_cached_and_has_c_utf8() -> None:
    assert pty.system_locales() is pty.system_locales()
    assert "C.utf8" in pty.system_locales()
    assert pty.is_utf8_locale_available("C.UTF-8")


def test_system_locales_when_locale_command_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    pty.system_locales.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        assert pty.system_locales() == {"C.utf8"}
    finally:
        pty.system_locales.cache_clear()


@pytest.mark.trio
async def test_a_read_takes_what_is_waiting_beyond_one_ptys_chunk(
    children: list[PtyChild],
) -> None:
    """One read(2) of a PTY gives at most ~4 KiB; a flood has more waiting, and one `read`
    takes it (up to the bound), so the emulator pays its per-feed cost per 16 KiB."""
    child = start(children, "head -c 60000 /dev/zero | tr '\\0' x; echo; echo done; sleep 5")
    await trio.sleep(0.5)  # the writer fills the PTY's buffers and blocks
    with trio.fail_after(TIMEOUT):
        first = await child.read(16384)
    assert 4096 < len(first) <= 16384
    rest = await read_until(child, b"done")
    assert (first + rest).count(b"x") == 60000

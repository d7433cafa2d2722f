"""Spawning a session's command on a pseudo-terminal that is its controlling terminal.

The daemon is a Trio process with threads, so the child must not run Python code between
fork and exec: `os.forkpty()` and `preexec_fn` are both unsafe there (a lock held by another
thread at fork time stays locked forever in the child). Instead:

1. The parent calls `os.openpty()` (glibc opens the slave with O_NOCTTY, so the daemon never
   acquires it as its own controlling terminal) and sets the window size on it.
2. `subprocess.Popen(..., start_new_session=True)` forks (vfork where possible) and runs only
   C code in the child: dup2 of the slave onto 0/1/2, close of every other fd, setsid(),
   reset of SIGPIPE/SIGXFSZ, exec. The child is a session leader (pgid == sid == pid) from the
   moment Popen returns, so `hangup()`/`kill()` reach it even if called immediately.
3. What it execs is a tiny trampoline (`python -I -S -c _TRAMPOLINE`), a *new* program image, so
   it may run Python freely. It makes the slave (its stdin) the controlling terminal with
   TIOCSCTTY, resets every signal disposition to SIG_DFL and unblocks all signals (exec keeps
   ignored signals and the signal mask, and the daemon's threads must not leak theirs into the
   user's shell), then `execv`s the real program with the requested argv[0] ("-bash" for a login
   shell, which `setsid --ctty` cannot do).

util-linux `setsid --ctty` would do step 3's TIOCSCTTY as well, but it can neither choose
argv[0] nor clean up inherited signal state, and it is not present everywhere; the trampoline
costs ~15 ms of interpreter start per session.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import pwd
import shutil
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import trio

DEFAULT_TERM = "xterm-256color"
FALLBACK_SHELL = "/bin/sh"  # _PATH_BSHELL: passwd(5) says an empty shell field means this
FALLBACK_UTF8_LOCALE = "C.UTF-8"  # built into glibc >= 2.35 and Debian >= 11

# Runs in the child after exec. argv: [-c, program path, argv0, args...].
_TRAMPOLINE = """\
import fcntl, os, signal, sys, termios
for signum in range(1, signal.NSIG):
    try:
        signal.signal(signum, signal.SIG_DFL)
    except (OSError, ValueError, RuntimeError):
        pass
signal.pthread_sigmask(signal.SIG_SETMASK, ())
try:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
except OSError as error:
    os.write(2, ("moshd: cannot acquire the terminal: %s\\r\\n" % error.strerror).encode())
    os._exit(126)
try:
    os.execv(sys.argv[1], sys.argv[2:])
except OSError as error:
    os.write(2, ("moshd: cannot run %s: %s\\r\\n" % (sys.argv[1], error.strerror)).encode())
    os._exit(127)
"""

# Variables that describe the daemon's own process or one particular ssh login, never the
# session's: systemd's service protocol and unit context, mosh's server-side settings, and
# values that would be wrong inside the new terminal.
_DAEMON_ONLY_VARIABLES = frozenset(
    {
        # systemd: sd_notify, socket activation, watchdog, unit bookkeeping (systemd.exec(5))
        "NOTIFY_SOCKET",
        "LISTEN_PID",
        "LISTEN_FDS",
        "LISTEN_FDNAMES",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "INVOCATION_ID",
        "JOURNAL_STREAM",
        "MANAGERPID",
        "MAINPID",
        "SYSTEMD_EXEC_PID",
        "PIDFILE",
        "FDSTORE",
        "MEMORY_PRESSURE_WATCH",
        "MEMORY_PRESSURE_WRITE",
        "CREDENTIALS_DIRECTORY",
        "RUNTIME_DIRECTORY",
        "STATE_DIRECTORY",
        "CACHE_DIRECTORY",
        "LOGS_DIRECTORY",
        "CONFIGURATION_DIRECTORY",
        "SERVICE_RESULT",
        "EXIT_CODE",
        "EXIT_STATUS",
        "TRIGGER_UNIT",
        "TRIGGER_PATH",
        "TRIGGER_TIMER_REALTIME_USEC",
        "TRIGGER_TIMER_MONOTONIC_USEC",
        # mosh: the session key must never reach the child
        "MOSH_KEY",
        # the ssh login that happened to start the daemon is not this session's connection
        "SSH_CONNECTION",
        "SSH_CLIENT",
        "SSH_TTY",
        # the daemon's terminal size (if any) is not the session's; shells recompute them
        "COLUMNS",
        "LINES",
        # upstream mosh-server unsets STY so GNU screen inside the session is a top-level screen
        "STY",
    }
)
# MOSH_SERVER_NETWORK_TMOUT, MOSH_SERVER_SIGNAL_TMOUT, ... and the daemon's own MOSHD_* settings;
# MONITOR_* is systemd's OnFailure=/OnSuccess= context.
_DAEMON_ONLY_PREFIXES = ("MOSH_SERVER_", "MOSHD_", "MONITOR_")

# Upstream mosh-server sets this: ask ncurses for UTF-8 line drawing instead of ISO 2022 charset
# switching, which the emulator does not implement.
_ALWAYS_SET = {"NCURSES_NO_UTF8_ACS": "1"}


@dataclass
class PtyChild:
    """A child process whose controlling terminal is the slave side of `master_fd`."""

    pid: int
    master_fd: int
    process: subprocess.Popen[bytes]
    _closed: bool = field(default=False, init=False, repr=False)

    def set_window_size(self, width: int, height: int) -> None:
        """Resize the terminal; the kernel sends SIGWINCH to its foreground process group."""
        _set_window_size(self.master_fd, width, height)

    def hangup(self) -> None:
        """Send SIGHUP (then SIGCONT, as a real hangup does) to the child's session."""
        self._signal_session(signal.SIGHUP)
        self._signal_session(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the child's process group and the terminal's foreground job."""
        self._signal_session(signal.SIGKILL)

    def poll_exit(self) -> int | None:
        """The exit status if the child has exited (negative: killed by that signal)."""
        return self.process.poll()

    async def wait_exit(self) -> int:
        """Wait without blocking the Trio loop until the child exits; return its status."""
        status = self.process.poll()
        if status is not None:
            return status
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return self.process.wait()
        try:
            await trio.lowlevel.wait_readable(pidfd)
        finally:
            os.close(pidfd)
        return self.process.wait()

    async def read(self, max_bytes: int = 65536) -> bytes:
        """Read terminal output; b"" once the terminal is gone (all slave fds closed)."""
        while True:
            try:
                return os.read(self.master_fd, max_bytes)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self.master_fd)
            except OSError as error:
                # Linux reports "no slave left" as EIO on the master, not as EOF.
                if error.errno == errno.EIO:
                    return b""
                raise

    async def write(self, data: bytes) -> None:
        """Write input to the terminal, waiting while the kernel's buffer is full."""
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.master_fd, view)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self.master_fd)
                continue
            view = view[written:]

    def close(self) -> None:
        """Close the master (the kernel hangs up the terminal) and reap the child if it exited.

        Never blocks: a child that is still running is reaped by a later `poll_exit()` /
        `wait_exit()`, or by the subprocess module once this object is garbage-collected.
        """
        if not self._closed:
            self._closed = True
            with contextlib.suppress(RuntimeError):  # not inside a Trio run: nobody to wake
                trio.lowlevel.notify_closing(self.master_fd)
            os.close(self.master_fd)
        self.process.poll()

    def _signal_session(self, signum: int) -> None:
        # The session leader's group is pgid == pid (start_new_session). A job the shell runs in
        # the foreground (vim, less) has its own group, which a real hangup also reaches.
        groups = {self.pid}
        if not self._closed:
            with contextlib.suppress(OSError):
                groups.add(os.tcgetpgrp(self.master_fd))
        # tcgetpgrp gives 0 when the terminal has no foreground group, and killpg(0) would
        # signal the daemon's own group.
        for group in groups - {0}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signum)


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    width: int,
    height: int,
    cwd: str | None = None,
    argv0: str | None = None,
) -> PtyChild:
    """Run `argv` on a new PTY of `width` x `height` that is its controlling terminal.

    `argv[0]` is the program, looked up in `env["PATH"]` unless it contains a slash;
    `argv0`, if given, is what the program sees as its argv[0] (e.g. "-bash").
    Raises FileNotFoundError if the program cannot be found, before anything is started.
    """
    if not argv:
        raise ValueError("cannot spawn an empty command")
    program = resolve_program(argv[0], env.get("PATH"))
    shown_argv = [argv0 if argv0 is not None else argv[0], *argv[1:]]
    master_fd, slave_fd = os.openpty()
    try:
        _set_window_size(slave_fd, width, height)
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _TRAMPOLINE, program, *shown_argv],
            stdin=slave_fd,
            stdout=slave_fd,
            stderr=slave_fd,
            env=dict(env),
            cwd=cwd,
            close_fds=True,
            start_new_session=True,
        )
    except BaseException:
        os.close(master_fd)
        raise
    finally:
        os.close(slave_fd)  # the child has its copies; ours would keep EIO from ever arriving
    os.set_blocking(master_fd, False)
    return PtyChild(pid=process.pid, master_fd=master_fd, process=process)


def resolve_program(name: str, search_path: str | None) -> str:
    """The absolute path `execvp` would run for `name`, or FileNotFoundError."""
    if "/" in name:
        path = os.path.abspath(name)
        if not os.access(path, os.X_OK) or os.path.isdir(path):
            raise FileNotFoundError(errno.ENOENT, "no such executable", name)
        return path
    found = shutil.which(name, path=search_path if search_path is not None else os.defpath)
    if found is None:
        raise FileNotFoundError(errno.ENOENT, "command not found in PATH", name)
    return os.path.abspath(found)


def login_shell_command(pw_entry: pwd.struct_passwd | None = None) -> tuple[list[str], str]:
    """The user's login shell as (argv, executable), argv[0] being "-bash" style like mosh-server.

    Pass them to `spawn([executable, *argv[1:]], ..., argv0=argv[0])`.
    """
    if pw_entry is None:
        try:
            pw_entry = pwd.getpwuid(os.getuid())
        except KeyError:  # no passwd entry (containers with arbitrary uids)
            pw_entry = None
    shell = pw_entry.pw_shell if pw_entry is not None and pw_entry.pw_shell else FALLBACK_SHELL
    # A leading "-" in argv[0] is the traditional way to ask any shell for a login shell.
    return ["-" + os.path.basename(shell)], shell


def term_for_colors(colors: int | None) -> str:
    """TERM for the session: 256-colour unless the client said it has fewer (mosh-server -c)."""
    if colors is None or colors >= 256:
        return DEFAULT_TERM
    return "xterm"


def build_child_environment(
    base: Mapping[str, str],
    client_locale: Mapping[str, str],
    term: str = DEFAULT_TERM,
    extra: Mapping[str, str] | None = None,
    *,
    available_locales: Collection[str] | None = None,
) -> dict[str, str]:
    """The session's environment: the daemon's minus its own variables, with a UTF-8 locale.

    Locale choice, never refusing to start (upstream's most common support question):
    the daemon's own locale if it is an installed UTF-8 one; else the client's LANG/LC_*
    variables (`mosh-server new -l`) if they name one; else LC_ALL=C.UTF-8.
    `available_locales` is `locale -a` output as a collection (default: asked once, cached).
    """
    known = system_locales() if available_locales is None else normalize_locales(available_locales)
    env = {name: value for name, value in base.items() if not _is_daemon_only(name)}
    if not _has_usable_utf8_ctype(env, known):
        with_client_locale = _without_locale(env) | _locale_variables(client_locale)
        if _has_usable_utf8_ctype(with_client_locale, known):
            env = with_client_locale
        else:
            env["LC_ALL"] = FALLBACK_UTF8_LOCALE
    env["TERM"] = term
    env.update(_ALWAYS_SET)
    if extra:
        env.update(extra)
    return env


def is_utf8_locale_available(name: str, available_locales: Collection[str] | None = None) -> bool:
    """Whether `name` is a UTF-8 locale installed here ("en_US.UTF-8" matches "en_US.utf8")."""
    known = system_locales() if available_locales is None else normalize_locales(available_locales)
    return is_utf8_locale_name(name) and normalize_locale_name(name) in known


def is_utf8_locale_name(name: str) -> bool:
    """Whether the locale name's codeset is UTF-8 (however it is spelled)."""
    _language, codeset, _modifier = _split_locale_name(name)
    return codeset is not None and _normalize_codeset(codeset) == "utf8"


def normalize_locale_name(name: str) -> str:
    """glibc's spelling of a locale name: codeset lower-case without punctuation ("utf8")."""
    language, codeset, modifier = _split_locale_name(name)
    normalized = language
    if codeset is not None:
        normalized += "." + _normalize_codeset(codeset)
    if modifier is not None:
        normalized += "@" + modifier
    return normalized


def normalize_locales(names: Collection[str]) -> frozenset[str]:
    return frozenset(normalize_locale_name(name) for name in names)


def parse_locale_list(output: str) -> frozenset[str]:
    """Parse `locale -a` output into normalized locale names."""
    return normalize_locales([line.strip() for line in output.splitlines() if line.strip()])


@functools.cache
def system_locales() -> frozenset[str]:
    """The installed locales (`locale -a`, asked once). C.UTF-8 is always counted as present."""
    try:
        result = subprocess.run(
            ["locale", "-a"], capture_output=True, text=True, timeout=10, check=False
        )
        listed = parse_locale_list(result.stdout)
    except (OSError, subprocess.SubprocessError):
        listed = frozenset()
    return listed | {normalize_locale_name(FALLBACK_UTF8_LOCALE)}


def _set_window_size(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def _is_daemon_only(name: str) -> bool:
    return name in _DAEMON_ONLY_VARIABLES or name.startswith(_DAEMON_ONLY_PREFIXES)


def _is_locale_variable(name: str) -> bool:
    return name in ("LANG", "LANGUAGE") or name.startswith("LC_")


def _locale_variables(env: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if _is_locale_variable(name)}


def _without_locale(env: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if not _is_locale_variable(name)}


def _effective_ctype(env: Mapping[str, str]) -> str | None:
    """The LC_CTYPE locale setlocale(LC_ALL, "") would pick: LC_ALL, then LC_CTYPE, then LANG."""
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = env.get(name)
        if value:
            return value
    return None


def _has_usable_utf8_ctype(env: Mapping[str, str], known: frozenset[str]) -> bool:
    ctype = _effective_ctype(env)
    return ctype is not None and is_utf8_locale_available(ctype, known)


def _split_locale_name(name: str) -> tuple[str, str | None, str | None]:
    """language[_territory][.codeset][@modifier] → (language_territory, codeset, modifier)."""
    rest, _, modifier = name.partition("@")
    language, dot, codeset = rest.partition(".")
    return language, (codeset if dot else None), (modifier if modifier else None)


def _normalize_codeset(codeset: str) -> str:
    return "".join(char for char in codeset.lower() if char.isalnum())

"""Spawning a session's command on a pseudo-terminal that is its controlling terminal.

The daemon is a Trio process with threads, so the child must not run Python code between
fork and exec: `os.forkpty()` and `preexec_fn` are both unsafe there (a lock held by another
thread at fork time stays locked forever in the child). Instead:

1. The parent calls `os.openpty()` (glibc opens the slave with O_NOCTTY, so the daemon never
   acquires it as its own controlling terminal) and sets the window size on it.
2. `subprocess.Popen(..., start_new_session=True)` forks (vfork where possible) and runs only
   C code in the child: dup2 of the slave onto 0/1/2, close of every other fd, setsid(),
   the session's umask, reset of SIGPIPE/SIGXFSZ, exec. The child is a session leader
   (pgid == sid == pid) from the moment Popen returns, so `hangup()`/`kill()` reach it even if
   called immediately.
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

import structlog
import trio

_log = structlog.get_logger("moshd.pty")

# Without a pidfd (out of fds), the child's exit is noticed by polling, backing off to once a
# second: a fallback that keeps the session correct, not a path that needs to be fast.
_EXIT_POLL_FIRST = 0.05
_EXIT_POLL_LONGEST = 1.0
# A read of at least this much means a flood (an echo or a prompt is far smaller): what else is
# waiting is read at once (PtyChild._read_more).
_FLOOD_CHUNK = 2048

DEFAULT_TERM = "xterm-256color"
FALLBACK_SHELL = "/bin/sh"  # _PATH_BSHELL: passwd(5) says an empty shell field means this
FALLBACK_UTF8_LOCALE = "C.UTF-8"  # built into glibc >= 2.35 and Debian >= 11


def trampoline_argv(program: str, argv: list[str], fd_soft_limit: int | None) -> list[str]:
    interpreter = [sys.executable, "-I", "-S", "-c", _TRAMPOLINE]
    soft = -1 if fd_soft_limit is None else fd_soft_limit
    return [*interpreter, str(soft), program, *argv]


# Runs in the child after exec. argv: [-c, open-files soft limit or -1, program path, argv0,
# args...].
_TRAMPOLINE = """\
import fcntl, os, resource, signal, sys, termios
soft = int(sys.argv[1])
if soft >= 0:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard), hard))
    except (OSError, ValueError):
        pass
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
    os.execv(sys.argv[2], sys.argv[3:])
except OSError as error:
    os.write(2, ("moshd: cannot run %s: %s\\r\\n" % (sys.argv[2], error.strerror)).encode())
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
        # the terminal of the ssh login that ran `mosh-server new`, gone once it exits
        "SSH_TTY",
        # the daemon's terminal size (if any) is not the session's; shells recompute them
        "COLUMNS",
        "LINES",
        # upstream mosh-server unsets STY so GNU screen inside the session is a top-level screen
        "STY",
    }
)
# The connection of one particular ssh login: the session's own when the environment is its
# caller's, but a stranger's when it is the daemon's (whichever login happened to start it).
_LOGIN_VARIABLES = frozenset({"SSH_CONNECTION", "SSH_CLIENT"})
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
        """Wait without blocking the Trio loop until the child exits; reap it and return its
        status."""
        if self.process.poll() is None:
            await self._exited()
        return self.process.wait()  # it has exited: this reaps it without blocking

    async def _exited(self) -> None:
        """Return once the child has exited (it is not reaped yet)."""
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            return  # gone already
        except OSError as error:
            # Out of file descriptors (EMFILE), or a kernel without pidfds (ENOSYS): polling
            # still notices the exit, which is all that matters here.
            _log.warning(
                "child.pidfd_unavailable",
                pid=self.pid,
                errno=errno.errorcode.get(error.errno or 0, error.errno),
            )
            await self._poll_until_exited()
            return
        try:
            await trio.lowlevel.wait_readable(pidfd)
        finally:
            os.close(pidfd)

    async def _poll_until_exited(self) -> None:
        interval = _EXIT_POLL_FIRST
        while self.process.poll() is None:
            await trio.sleep(interval)
            interval = min(interval * 2, _EXIT_POLL_LONGEST)

    async def read(self, max_bytes: int = 65536) -> bytes:
        """Read terminal output, up to `max_bytes` of what is there; b"" once the terminal is
        gone (all slave fds closed)."""
        while True:
            try:
                data = os.read(self.master_fd, max_bytes)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self.master_fd)
                continue
            except OSError as error:
                # Linux reports "no slave left" as EIO on the master, not as EOF.
                if error.errno == errno.EIO:
                    return b""
                raise
            if len(data) >= _FLOOD_CHUNK:
                return self._read_more(data, max_bytes)
            return data

    def _read_more(self, data: bytes, max_bytes: int) -> bytes:
        """`data` and what else is there already, up to `max_bytes`. One read of a PTY gives at
        most ~4 KiB (the line discipline's buffer) though a flood has more waiting: the
        emulator's cost per feed (and its flood fast path's reach, which needs more lines
        than the screen has rows) is then paid once per 16 KiB, not per 4 KiB. Only after a
        read that big (`_FLOOD_CHUNK`): a keystroke's echo costs no extra read."""
        parts = [data]
        size = len(data)
        while size < max_bytes:
            try:
                more = os.read(self.master_fd, max_bytes - size)
            except OSError:
                break  # nothing more now (or the end: the next read reports it)
            if not more:
                break
            parts.append(more)
            size += len(more)
        return data if len(parts) == 1 else b"".join(parts)

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

    def close(self, reaper: ChildReaper | None = None) -> None:
        """Close the master (the kernel hangs up the terminal) and reap the child if it exited.

        Never blocks. A child still running (it exits a moment after its hangup, or ignores
        it) is handed to `reaper`, which reaps it when it exits; without one, only a later
        `poll_exit()` / `wait_exit()` or the next spawn reaps it, and it lingers as a zombie.
        """
        if not self._closed:
            self._closed = True
            with contextlib.suppress(RuntimeError):  # not inside a Trio run: nobody to wake
                trio.lowlevel.notify_closing(self.master_fd)
            os.close(self.master_fd)
        if self.process.poll() is None and reaper is not None:
            reaper.adopt(self)

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


class ChildReaper:
    """Reaps closed sessions' children as they exit, so that none lingers as a zombie.

    Each child it adopts gets a task, in the reaper's own nursery, that waits for the child's
    exit (its pidfd) and collects its status. Run it in the daemon's nursery with `start`.
    """

    def __init__(self) -> None:
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def adopt(self, child: PtyChild) -> None:
        if self._nursery is None:
            raise RuntimeError("ChildReaper.adopt() before run() has started")
        self._nursery.start_soon(self._reap, child)

    @staticmethod
    async def _reap(child: PtyChild) -> None:
        try:
            await child.wait_exit()
        except Exception:  # one child's trouble must never reach the daemon's nursery
            _log.exception("child.reap_failed", pid=child.pid)


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    width: int,
    height: int,
    cwd: str | None = None,
    argv0: str | None = None,
    umask: int | None = None,
    fd_soft_limit: int | None = None,
) -> PtyChild:
    """Run `argv` on a new PTY of `width` x `height` that is its controlling terminal.

    `argv[0]` is the program, looked up in `env["PATH"]` unless it contains a slash;
    `argv0`, if given, is what the program sees as its argv[0] (e.g. "-bash");
    `umask`, if given, is the child's file mode creation mask (default: the daemon's);
    `fd_soft_limit`, if given, its open-files soft limit: the daemon raises its own to the
    hard limit, and gives programs the usual one back, as systemd advises, since programs
    that use select() break on descriptors past 1024.
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
            trampoline_argv(program, shown_argv, fd_soft_limit),
            stdin=slave_fd,
            stdout=slave_fd,
            stderr=slave_fd,
            env=dict(env),
            cwd=cwd,
            close_fds=True,
            start_new_session=True,
            # Set by subprocess's C code between fork and exec, like setsid(): no Python runs
            # there, so it is as safe in the threaded daemon as the rest (no preexec_fn).
            umask=-1 if umask is None else umask,
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
    from_caller: bool = False,
    available_locales: Collection[str] | None = None,
) -> dict[str, str]:
    """The session's environment: `base` minus the daemon's own variables, with a UTF-8 locale.

    `base` is the environment of the `mosh-server new` caller (`from_caller=True`), as ssh
    gave it to that login, or else the daemon's own (an older mosh-server sent none); then the
    SSH_CONNECTION/SSH_CLIENT of whichever login started the daemon are dropped too.
    Locale choice, never refusing to start (upstream's most common support question):
    `base`'s locale if it is an installed UTF-8 one; else the client's LANG/LC_*
    variables (`mosh-server new -l`) if they name one; else LC_ALL=C.UTF-8.
    `available_locales` is `locale -a` output as a collection (default: asked once, cached).
    """
    known = system_locales() if available_locales is None else normalize_locales(available_locales)
    env = {name: value for name, value in base.items() if not _is_daemon_only(name)}
    if not from_caller:
        env = {name: value for name, value in env.items() if name not in _LOGIN_VARIABLES}
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

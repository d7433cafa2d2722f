"""The command that starts the server: `SERVER new ...` (or `SERVER attach ...` for
`mosh --attach`), run here through /bin/sh or on the remote host through ssh (its argv, and the
ProxyCommand that makes ssh report the address)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from mosh_client.mosh_args import BIND_ANY, BIND_SSH, Family, MoshOptions

LOCALE_NAMES = (
    "LANG",
    "LANGUAGE",
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "LC_MONETARY",
    "LC_MESSAGES",
    "LC_PAPER",
    "LC_NAME",
    "LC_ADDRESS",
    "LC_TELEPHONE",
    "LC_MEASUREMENT",
    "LC_IDENTIFICATION",
    "LC_ALL",
)


def locale_assignments(environ: Mapping[str, str]) -> list[str]:
    """`NAME=VALUE` for each locale variable set here: the server falls back to them when
    its own locale is not UTF-8."""
    return [f"{name}={environ[name]}" for name in LOCALE_NAMES if name in environ]


def bind_arguments(options: MoshOptions) -> list[str]:
    if options.bind_server == BIND_SSH:
        # Reply from the address the ssh connection arrived on; locally there is no ssh
        # connection, and the host is the (numeric) address the client will use.
        return ["-i", options.userhost] if options.local else ["-s"]
    if options.bind_server == BIND_ANY:
        return []
    return ["-i", options.bind_server]


def server_arguments(options: MoshOptions, colors: int, environ: Mapping[str, str]) -> list[str]:
    """The arguments after the server command: `new -c COLORS ... [-- command...]`, or for
    `--attach[=ID]`: `attach --host=USERHOST [ID]` (the host as typed, for the commands the
    server prints when it must ask which session)."""
    if options.attach is not None:
        return [
            "attach",
            f"--host={options.userhost}",
            *([options.attach] if options.attach else []),
        ]
    args = ["new", "-c", str(colors), *bind_arguments(options)]
    if options.port_request is not None:
        args += ["-p", options.port_request]
    for assignment in locale_assignments(environ):
        args += ["-l", assignment]
    if options.command:
        args += ["--", *options.command]
    return args


def server_command_line(server: str, server_args: Sequence[str]) -> str:
    # SERVER is deliberately not quoted: it is a command line of its own (`env X=1 path`).
    return f"{server} {shlex.join(server_args)}"


# Run by the remote login shell, which may not be POSIX (fish, csh): ask sh explicitly.
_PRINT_SSH_CONNECTION = (
    "sh -c "
    + shlex.quote(
        '[ -n "$SSH_CONNECTION" ] && printf "\\nMOSH SSH_CONNECTION %s\\n" "$SSH_CONNECTION"'
    )
    + " ; "
)


def remote_command(options: MoshOptions, server: str, server_args: Sequence[str]) -> str:
    prefix = _PRINT_SSH_CONNECTION if options.remote_ip == "remote" else ""
    return prefix + server_command_line(server, server_args)


def proxy_command(mosh_path: str, family: Family) -> str:
    """ssh's ProxyCommand: this very program as a relay that reports the address it reached.
    ssh expands `%` tokens in it, so a `%` in our own path is doubled."""
    quoted = shlex.join([mosh_path.replace("%", "%%"), f"--family={family}"])
    return f"{quoted} --fake-proxy -- %h %p"


def ssh_argv(
    options: MoshOptions, userhost: str, server: str, server_args: Sequence[str], mosh_path: str
) -> list[str]:
    argv = [*options.ssh, "-n"]
    if options.ssh_pty:
        argv.append("-tt")
    if options.remote_ip == "remote":
        # Only here does ssh pick the address itself; in the other modes we already did.
        if options.family == "inet":
            argv.append("-4")
        elif options.family == "inet6":
            argv.append("-6")
    if options.remote_ip == "proxy":
        # -S none: a shared ControlMaster connection would never run our ProxyCommand.
        argv += ["-S", "none", "-o", f"ProxyCommand={proxy_command(mosh_path, options.family)}"]
    return [*argv, userhost, "--", remote_command(options, server, server_args)]

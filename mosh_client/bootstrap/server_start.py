"""Starting the server: the plan (ssh or a local /bin/sh, with its environment), then reading
its output until `MOSH CONNECT`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mosh_client.bootstrap.addresses import resolve_first
from mosh_client.bootstrap.environment import local_server_environment, ssh_environment
from mosh_client.bootstrap.errors import BootstrapError, failure_reason
from mosh_client.bootstrap.programs import default_server
from mosh_client.bootstrap.server_command import server_arguments, server_command_line, ssh_argv
from mosh_client.bootstrap.server_output import BootstrapOutput, explain_failure
from mosh_client.mosh_args import MoshOptions

REAP_TIMEOUT = 5.0  # after MOSH CONNECT, how long ssh gets to exit before we kill it
# moshd's mosh-server answers a stock client with protocol 2 unless asked for its own protocol;
# a stock mosh-server ignores the variable (and answers with protocol 2, which we speak too).
PROTOCOL_VARIABLE = "MOSHD_PROTOCOL"
NATIVE_PROTOCOL = "native"


@dataclass(frozen=True)
class Plan:
    """The command that starts the server, and what we know before it speaks."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    known_ip: str | None
    what: str  # for messages: "ssh" or the local server command


def make_plan(
    options: MoshOptions, colors: int, environ: Mapping[str, str], mosh_path: str
) -> Plan:
    server = default_server(options)
    server_args = server_arguments(options, colors, environ)
    if options.local:
        home = environ.get("HOME")
        return Plan(
            argv=["/bin/sh", "-c", server_command_line(server, server_args)],
            env={**local_server_environment(environ), PROTOCOL_VARIABLE: NATIVE_PROTOCOL},
            cwd=home if home and os.path.isdir(home) else None,
            known_ip=options.userhost,
            what=server,
        )
    userhost, known_ip = options.userhost, None
    if options.remote_ip == "local":
        known_ip = resolve_first(options.host, options.family)
        userhost = options.userhost[: len(options.userhost) - len(options.host)] + known_ip
    return Plan(
        argv=ssh_argv(options, userhost, remote_server(server), server_args, mosh_path),
        env=ssh_environment(options, environ),
        cwd=None,
        known_ip=known_ip,
        what=options.ssh[0],
    )


def remote_server(server: str) -> str:
    """The server command as the remote login shell runs it, asking moshd for its own protocol
    (`env` is a program, so any login shell, fish or csh too, runs it the same way; it exits
    127 or 126 as a shell would when the server is missing or not executable)."""
    return f"env {PROTOCOL_VARIABLE}={NATIVE_PROTOCOL} {server}"


def start_server(
    plan: Plan, options: MoshOptions, while_waiting: Callable[[], object] = lambda: None
) -> BootstrapOutput:
    """Run the plan until `MOSH CONNECT`; raises BootstrapError with the reason otherwise.
    `while_waiting` runs once the server is started, before its answer is read."""
    output = BootstrapOutput(ip=plan.known_ip)
    try:
        process = subprocess.Popen(
            plan.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=plan.env,
            cwd=plan.cwd,
        )
    except OSError as exc:
        raise BootstrapError(
            f"cannot run {plan.what!r} ({failure_reason(exc)}): install it, or choose another with "
            + ("--server=COMMAND" if options.local else "--ssh=COMMAND")
        ) from None
    while_waiting()
    connected = False
    try:
        assert process.stdout is not None
        with process.stdout:
            for raw in process.stdout:
                if output.feed(raw.decode(errors="replace")):
                    connected = True
                    break  # like upstream: what the server says afterwards is not ours to show
    finally:
        returncode = _reap(process)
    if not connected:
        raise explain_failure(output, returncode, options, default_server(options))
    return output


def _reap(process: subprocess.Popen[bytes]) -> int:
    try:
        return process.wait(timeout=REAP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()

"""Which programs the wrapper runs: ours, installed beside this `mosh`, before those on PATH."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from mosh_client.mosh_args import MoshOptions


def find_program(name: str, beside: Iterable[Path], path: str | None = None) -> str:
    """The `name` installed beside this `mosh`, else `name` on PATH, else `name` (to fail
    visibly later). Ours first: its protocol is not upstream's, and a system may have both."""
    for directory in beside:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name, path=path) or name


def own_directories() -> list[Path]:
    """Where this `mosh` is installed: its script's directory, and that of the file a
    symlink to it points at (`/usr/local/bin/mosh` → `/opt/moshd/venv/bin/mosh`)."""
    script = Path(os.path.abspath(sys.argv[0]))
    return list(dict.fromkeys([script.parent, script.resolve().parent]))


def own_path() -> str:
    """This program, for ssh to run as `mosh --fake-proxy`."""
    me = os.path.abspath(sys.argv[0])
    if os.path.basename(me) == "mosh" and os.access(me, os.X_OK):
        return me
    return shutil.which("mosh") or "mosh"


def default_server(options: MoshOptions) -> str:
    if options.server is not None:
        return options.server
    if options.local:
        return shlex.quote(find_program("mosh-server", own_directories()))
    return "mosh-server"  # found by the remote PATH

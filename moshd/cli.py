"""Entry points of `moshd` and `mosh-server` (placeholders until their issue lands)."""

from __future__ import annotations

import sys


def _not_yet(name: str) -> int:
    print(f"{name}: not yet implemented", file=sys.stderr)
    return 2


def daemon_main() -> int:
    return _not_yet("moshd")


def server_main() -> int:
    return _not_yet("mosh-server")

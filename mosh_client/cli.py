"""Entry points of `mosh` and `mosh-client` (placeholders until their issues land)."""

from __future__ import annotations

import sys


def _not_yet(name: str) -> int:
    print(f"{name}: not yet implemented", file=sys.stderr)
    return 2


def mosh_main() -> int:
    return _not_yet("mosh")


def client_main() -> int:
    return _not_yet("mosh-client")

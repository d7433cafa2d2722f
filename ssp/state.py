"""What the transport needs of a synchronized state (the user stream, the screen)."""

from __future__ import annotations

from typing import Protocol, Self


class SyncState(Protocol):
    def copy(self) -> Self: ...

    def diff_from(self, old: Self) -> bytes:
        """Bytes that turn `old` into this state; empty when they are equal."""
        ...

    def apply(self, diff: bytes) -> None:
        """Apply a diff; raise `ssp.codec.DecodeError` (a ValueError) and stay unchanged if bad."""
        ...

    def subtract(self, prefix: Self) -> None:
        """Forget what an older state `prefix`, known to the peer, already holds."""
        ...

    def __eq__(self, other: object, /) -> bool: ...

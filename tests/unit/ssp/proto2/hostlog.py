"""A minimal server → client state for protocol-2 tests: every HostMessage item, in order.

A real client applies the host strings to a terminal emulator; tests only need to see what
arrived. Its diffs are genuine HostMessages, so a server endpoint can send it too.
"""

from __future__ import annotations

from typing import Self

from ssp.proto2.messages import (
    EchoAck,
    HostBytes,
    HostItem,
    WindowSize,
    decode_host_message,
    encode_host_message,
)


class HostLog:
    def __init__(self) -> None:
        self.items: list[HostItem] = []

    @property
    def screen_bytes(self) -> bytes:
        return b"".join(item.hoststring for item in self.items if isinstance(item, HostBytes))

    @property
    def echo_ack(self) -> int:
        return max((i.echo_ack_num for i in self.items if isinstance(i, EchoAck)), default=0)

    @property
    def sizes(self) -> list[WindowSize]:
        return [item for item in self.items if isinstance(item, WindowSize)]

    # --- ssp.state.SyncState ------------------------------------------------------------
    def copy(self) -> Self:
        clone = type(self)()
        clone.items = list(self.items)
        return clone

    def diff_from(self, old: Self) -> bytes:
        return encode_host_message(self.items[len(old.items) :])

    def apply(self, diff: bytes) -> None:
        self.items += decode_host_message(diff)

    def subtract(self, prefix: Self) -> None:
        pass  # a test's log keeps everything (diff_from relies on that)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostLog) and self.items == other.items

    __hash__ = None  # type: ignore[assignment]  # mutable

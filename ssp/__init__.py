"""The State Synchronization Protocol, sans-IO: no sockets, no sleeps, no clock reads.

SSP keeps one state object in sync in each direction over UDP (the client's `UserStream` of
keystrokes to the server, the server's `Framebuffer` to the client), encrypted under a shared
`Key`, surviving loss, reordering and the client's changes of address. An application drives an
`Endpoint` with three calls, passing the time in (`now`, seconds on a monotonic clock):

- `receive_datagram(data, source, now)` for every datagram that arrives; it returns events
  (`RemoteStateChanged`, `PeerAddressChanged`, `RttSampled`, `ShutdownRequested`, `Closed`);
- `datagrams_to_send(now)` gives the datagrams due now, with their destinations;
- `next_deadline()` says when to call `datagrams_to_send` again if nothing arrives.

What happens on the send path (a goodbye acknowledged or given up on: `Closed`) is collected as
events too, and handed over by `take_events()` after `datagrams_to_send` or `start_shutdown`.
Nothing here imports trio.

The protocol spoken is the endpoint's `wire`: our own by default (`NativeWire`), or upstream
mosh's protocol 2 (`Proto2Wire`, with a `Proto2Key`; the client's state is then a
`Proto2UserStream`), so that stock mosh clients and servers interoperate. See ssp.wire and
ssp.proto2.

The names below are re-exported lazily: `import ssp` loads none of the submodules, so the
`mosh` wrapper, which only reads keys (`ssp.key`, `ssp.proto2.key`), starts without importing
PyNaCl or cryptography.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ssp.key import Key as Key
    from ssp.lifecycle import Closed as Closed
    from ssp.lifecycle import Ending as Ending
    from ssp.lifecycle import Phase as Phase
    from ssp.proto2.key import Proto2Key as Proto2Key
    from ssp.proto2.key import parse_connect_key as parse_connect_key
    from ssp.proto2.userstream import Proto2UserStream as Proto2UserStream
    from ssp.proto2.wire import Proto2Wire as Proto2Wire
    from ssp.screen import Framebuffer as Framebuffer
    from ssp.state import SyncState as SyncState
    from ssp.timing import Timers as Timers
    from ssp.transport import Endpoint as Endpoint
    from ssp.transport import Event as Event
    from ssp.transport import PeerAddressChanged as PeerAddressChanged
    from ssp.transport import RemoteStateChanged as RemoteStateChanged
    from ssp.transport import RttSampled as RttSampled
    from ssp.transport import ShutdownRequested as ShutdownRequested
    from ssp.userstream import UserStream as UserStream
    from ssp.wire import NativeWire as NativeWire
    from ssp.wire import Wire as Wire

# Each public name and the submodule that defines it.
_HOME_OF = {
    "Closed": "ssp.lifecycle",
    "Endpoint": "ssp.transport",
    "Ending": "ssp.lifecycle",
    "Event": "ssp.transport",
    "Framebuffer": "ssp.screen",
    "Key": "ssp.key",
    "NativeWire": "ssp.wire",
    "PeerAddressChanged": "ssp.transport",
    "Phase": "ssp.lifecycle",
    "Proto2Key": "ssp.proto2.key",
    "Proto2UserStream": "ssp.proto2.userstream",
    "Proto2Wire": "ssp.proto2.wire",
    "RemoteStateChanged": "ssp.transport",
    "RttSampled": "ssp.transport",
    "ShutdownRequested": "ssp.transport",
    "SyncState": "ssp.state",
    "Timers": "ssp.timing",
    "UserStream": "ssp.userstream",
    "Wire": "ssp.wire",
    "parse_connect_key": "ssp.proto2.key",
}

__all__ = sorted(_HOME_OF)


def __getattr__(name: str) -> object:
    """Import the submodule defining `name` on first use (PEP 562)."""
    home = _HOME_OF.get(name)
    if home is None:
        raise AttributeError(f"module 'ssp' has no attribute {name!r}")
    value: object = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

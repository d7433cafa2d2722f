"""Client → server state: the user stream of keystrokes and resizes.

The stream is append-only and every event has an absolute index, so a diff is simply "the events
from index N on" and applying it twice is impossible (the transport never applies a diff to a
state that is not its base). Events the peer has acknowledged are forgotten with `subtract`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from ssp.codec import DecodeError, Reader, put_bytes, put_varint

_KEYSTROKE = 0
_RESIZE = 1
MAX_DIMENSION = 4096


@dataclass(frozen=True, slots=True)
class Keystroke:
    data: bytes


@dataclass(frozen=True, slots=True)
class Resize:
    width: int
    height: int

    def __post_init__(self) -> None:
        if not (1 <= self.width <= MAX_DIMENSION and 1 <= self.height <= MAX_DIMENSION):
            raise ValueError(f"window size {self.width}x{self.height} out of range")


UserEvent = Keystroke | Resize


class UserStream:
    __slots__ = ("_base", "_events")

    def __init__(self) -> None:
        self._base = 0  # absolute index of _events[0]
        self._events: list[UserEvent] = []

    @property
    def total(self) -> int:
        """How many events the stream has ever held."""
        return self._base + len(self._events)

    def push_keystroke(self, data: bytes) -> None:
        if data:
            self._events.append(Keystroke(bytes(data)))

    def push_resize(self, width: int, height: int) -> None:
        self._events.append(Resize(width, height))

    def events_since(self, index: int) -> list[UserEvent]:
        """Events with absolute index ≥ `index`."""
        if index < self._base:
            raise ValueError("those events were already forgotten")
        return self._events[index - self._base :]

    # --- the State protocol ----------------------------------------------------------------
    def copy(self) -> Self:
        clone = type(self)()  # a subclass (protocol 2's wire format) stays itself
        clone._base = self._base
        clone._events = list(self._events)
        return clone

    def __eq__(self, other: object) -> bool:
        # One sender's streams only ever grow, so equal length means equal content.
        if not isinstance(other, UserStream):
            return NotImplemented
        return self.total == other.total

    __hash__ = None  # type: ignore[assignment]  # mutable

    def subtract(self, prefix: UserStream) -> None:
        """Forget the events `prefix` holds (it is an older copy of this stream)."""
        drop = min(prefix.total, self.total) - self._base
        if drop > 0:
            del self._events[:drop]
            self._base += drop

    def new_events(self, old: UserStream) -> list[UserEvent]:
        """The events this stream holds beyond `old` (an older copy of it): a diff's content."""
        if old.total > self.total:
            raise ValueError("a diff from a newer stream")
        return self.events_since(old.total)

    def diff_from(self, old: UserStream) -> bytes:
        out = bytearray()
        for event in self.new_events(old):
            if isinstance(event, Keystroke):
                out.append(_KEYSTROKE)
                put_bytes(out, event.data)
            else:
                out.append(_RESIZE)
                put_varint(out, event.width)
                put_varint(out, event.height)
        return bytes(out)

    def apply(self, diff: bytes) -> None:
        """Append the events of a diff. Raises `DecodeError`, leaving the stream unchanged."""
        self._events += self._decode_events(diff)

    @staticmethod
    def _decode_events(diff: bytes) -> list[UserEvent]:
        reader = Reader(diff)
        new_events: list[UserEvent] = []
        while not reader.at_end():
            tag = reader.byte()
            if tag == _KEYSTROKE:
                data = reader.bytes_()
                if not data:
                    raise DecodeError("empty keystroke")
                new_events.append(Keystroke(data))
            elif tag == _RESIZE:
                try:
                    new_events.append(Resize(reader.varint(), reader.varint()))
                except ValueError as exc:
                    raise DecodeError(str(exc)) from exc
            else:
                raise DecodeError(f"unknown user event tag {tag}")
        return new_events

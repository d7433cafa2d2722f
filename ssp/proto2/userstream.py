"""The client's user stream on protocol 2's wire: diffs are `ClientBuffers.UserMessage`.

Same events, same meaning as `ssp.userstream.UserStream` (which this extends); only the bytes
of a diff differ, so a server endpoint for a stock client and our client's endpoint for a stock
server use this in place of `UserStream`.

As upstream's, the stream holds one event per byte typed (`Keystroke`s of one byte, shared
objects), and a diff puts consecutive bytes in one Keystroke instruction. The count matters:
a stock client that resends from an older base merges bytes it first sent apart ("echo" in
one state, "\r" in the next, then "echo\r" in one instruction from the base before both), and
only a count of bytes keeps the absolute indexes of both streams in step, so that a server
that consumed up to "echo" takes exactly the "\r" from the resent state.
"""

from __future__ import annotations

from ssp.codec import DecodeError
from ssp.proto2.messages import Keys, UserItem, WindowSize, decode_user_message, encode_user_message
from ssp.userstream import Keystroke, Resize, UserEvent, UserStream

_BYTES = tuple(Keystroke(bytes((value,))) for value in range(256))


def _per_byte(data: bytes) -> list[UserEvent]:
    return [_BYTES[value] for value in data]


class Proto2UserStream(UserStream):
    __slots__ = ()

    def push_keystroke(self, data: bytes) -> None:
        self._events += _per_byte(data)

    def diff_from(self, old: UserStream) -> bytes:
        items: list[UserItem] = []
        typed = bytearray()
        for event in self.new_events(old):
            if isinstance(event, Keystroke):
                typed += event.data
                continue
            if typed:
                items.append(Keys(bytes(typed)))
                typed.clear()
            items.append(WindowSize(event.width, event.height))
        if typed:
            items.append(Keys(bytes(typed)))
        return encode_user_message(items)

    @staticmethod
    def _decode_events(diff: bytes) -> list[UserEvent]:
        events: list[UserEvent] = []
        for item in decode_user_message(diff):
            if isinstance(item, Keys):
                events += _per_byte(item.keys)  # an empty one means nothing, as upstream
                continue
            try:
                events.append(Resize(item.width, item.height))
            except ValueError:
                # An absurd size (0, negative, huge) is ignored rather than refused: refusing
                # the state would make the client resend it forever, and block its keystrokes.
                continue
        return events


__all__ = ["DecodeError", "Proto2UserStream"]

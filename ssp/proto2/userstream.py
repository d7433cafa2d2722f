"""The client's user stream on protocol 2's wire: diffs are `ClientBuffers.UserMessage`.

Same events, same meaning as `ssp.userstream.UserStream` (which this extends); only the bytes
of a diff differ, so a server endpoint for a stock client and our client's endpoint for a stock
server use this in place of `UserStream`.

Decoding differs from upstream's in one respect: upstream keeps one event per byte typed, this
keeps one `Keystroke` per instruction received (a stock client puts consecutive bytes in one).
"""

from __future__ import annotations

from ssp.codec import DecodeError
from ssp.proto2.messages import Keys, UserItem, WindowSize, decode_user_message, encode_user_message
from ssp.userstream import Keystroke, Resize, UserEvent, UserStream


class Proto2UserStream(UserStream):
    __slots__ = ()

    def diff_from(self, old: UserStream) -> bytes:
        items: list[UserItem] = [
            Keys(event.data)
            if isinstance(event, Keystroke)
            else WindowSize(event.width, event.height)
            for event in self.new_events(old)
        ]
        return encode_user_message(items)

    @staticmethod
    def _decode_events(diff: bytes) -> list[UserEvent]:
        events: list[UserEvent] = []
        for item in decode_user_message(diff):
            if isinstance(item, Keys):
                if item.keys:  # upstream accepts an empty one, which means nothing
                    events.append(Keystroke(item.keys))
                continue
            try:
                events.append(Resize(item.width, item.height))
            except ValueError:
                # An absurd size (0, negative, huge) is ignored rather than refused: refusing
                # the state would make the client resend it forever, and block its keystrokes.
                continue
        return events


__all__ = ["DecodeError", "Proto2UserStream"]

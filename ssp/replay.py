"""Which of the peer's datagrams were seen: the replay window, one per run of the peer.

Each run of the peer (a nonce epoch, see ssp.datagram) numbers its datagrams from 0, so each
has a sequence space of its own. Protocol 2 has no epochs: the whole connection is run 0.
"""

from __future__ import annotations

import collections
from collections.abc import ItemsView

REPLAY_WINDOW = 4096  # sequence numbers remembered for dropping exact replays
# Runs of the peer whose sequence numbers are remembered. A datagram of a run forgotten since
# cannot be told from a new run's: it is accepted once.
MAX_PEER_EPOCHS = 8
_WINDOW_MASK = (1 << REPLAY_WINDOW) - 1


class SequenceSpace:
    """The sequence numbers seen from one run (nonce epoch) of the peer: the newest, and which
    of the REPLAY_WINDOW before it, as a bit mask: 512 bytes however long the run."""

    __slots__ = ("_seen", "expected")

    def __init__(self) -> None:
        self.expected = 0  # one past the newest sequence number seen; 0 before the first
        self._seen = 0  # bit i: sequence number expected - 1 - i was seen

    def note(self, seq: int) -> bool:
        """Remember `seq`; False if it was seen before or is too old to tell."""
        if seq >= self.expected:
            advance = seq + 1 - self.expected
            # Past the window nothing seen stays in it; and shifting by a huge jump would build
            # a huge integer.
            kept = self._seen << advance if advance < REPLAY_WINDOW else 0
            self._seen = (kept | 1) & _WINDOW_MASK
            self.expected = seq + 1
            return True
        age = self.expected - 1 - seq
        if age >= REPLAY_WINDOW or self._seen >> age & 1:
            return False
        self._seen |= 1 << age
        return True


class PeerRuns:
    """The sequence spaces of the peer's runs, least recently heard first."""

    __slots__ = ("_runs",)

    def __init__(self) -> None:
        self._runs: collections.OrderedDict[int, SequenceSpace] = collections.OrderedDict()

    def note(self, epoch: int, seq: int) -> int | None:
        """Remember `seq` of the peer's run `epoch`. None if it was seen before or is too old
        to tell; otherwise the newest sequence number of that run before it (-1: none).

        Beyond MAX_PEER_EPOCHS runs, the least recently heard is forgotten: the run the peer is
        using now is heard all the time, so replays of old runs rarely push it out (and then
        its next datagram simply starts its space again)."""
        space = self._runs.get(epoch)
        if space is None:
            space = self._runs[epoch] = SequenceSpace()
            if len(self._runs) > MAX_PEER_EPOCHS:
                self._runs.popitem(last=False)
        previous = space.expected - 1
        if not space.note(seq):
            return None
        self._runs.move_to_end(epoch)
        return previous

    def __len__(self) -> int:
        return len(self._runs)

    def items(self) -> ItemsView[int, SequenceSpace]:
        return self._runs.items()

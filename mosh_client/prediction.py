"""Predictive local echo: show what the user typed before the server says so.

The engine guesses the effect of each keystroke on the screen (a printable character is
inserted at the cursor, backspace deletes, left/right arrows move the cursor, Enter goes to the
start of the next row) and overlays those guesses on the server's frame. Each guess is judged
once the server's `echo_ack` shows it has had the keystroke for 50 ms: the server's cell either
matches (correct) or not.

Guesses belong to epochs. A new epoch starts at anything the engine cannot predict (control
characters, Enter, other escape sequences), and a guess is shown only once some guess of its
epoch has been confirmed. That is why a password prompt never shows a typed character: the first
guess after Enter is never confirmed, so its whole epoch is discarded unseen.

Beyond upstream mosh: wide characters are predicted (two cells), backspace over a wide character
removes both of its cells, and a resize resets every guess (they were made for another
geometry).
"""

from __future__ import annotations

import codecs
import collections
import math
from dataclasses import dataclass, field, replace

from mosh_client.client_args import PredictionMode
from ssp.screen import (
    DEFAULT_RENDITION,
    UNDERLINE,
    Framebuffer,
    Rendition,
    Row,
    repair_wide_pairs,
)
from ssp.width import char_width

# upstream's thresholds, on the frame interval (half the smoothed RTT), in seconds
SRTT_TRIGGER_HIGH = 0.030  # above: show predictions
SRTT_TRIGGER_LOW = 0.020  # at or below, with nothing pending: stop showing them
FLAG_TRIGGER_HIGH = 0.080  # above: underline predictions
FLAG_TRIGGER_LOW = 0.050  # at or below: stop underlining
GLITCH_THRESHOLD = 0.250  # a guess pending this long shows predictions even on a fast link
GLITCH_REPAIR_COUNT = 10  # quick confirmations needed to undo that
GLITCH_REPAIR_MININTERVAL = 0.150
GLITCH_FLAG_THRESHOLD = 5.0  # pending this long: also underline
MAX_PREDICTED_PASTE = 100  # a paste longer than this is not predicted


@dataclass(slots=True)
class CellGuess:
    active: bool = False
    unknown: bool = False  # shifted in from beyond the row: we cannot say what it will show
    text: str = " "
    rendition: Rendition = DEFAULT_RENDITION
    epoch: int = 0  # tentative until this epoch is confirmed
    expiration_frame: int = 0  # judged once echo_ack reaches this user-stream state
    made_at: float = 0.0
    originals: list[str] = field(default_factory=list)  # what the cell showed before guessing

    def renew(self, epoch: int, frame_num: int, now: float, original: str) -> None:
        if not self.active:
            self.originals = []
        self.active = True
        self.epoch = epoch
        self.expiration_frame = frame_num
        self.made_at = now
        self.originals.append(original)


@dataclass(slots=True)
class CursorGuess:
    row: int
    col: int
    epoch: int
    expiration_frame: int
    made_at: float


class _Verdict:
    PENDING = 0
    CORRECT = 1
    CORRECT_NO_CREDIT = 2
    INCORRECT = 3


class PredictionEngine:
    def __init__(self, mode: PredictionMode = "adaptive") -> None:
        self.mode: PredictionMode = mode
        self._rows: dict[int, list[CellGuess]] = {}
        self._cursors: list[CursorGuess] = []
        self.prediction_epoch = 1
        self.confirmed_epoch = 0
        self._send_interval = 0.250  # as if the link were slow, until measured
        self.srtt_trigger = False
        self.flagging = False
        self.glitch_trigger = 0
        self._last_quick_confirmation = -math.inf
        self._geometry: tuple[int, int] | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._escape: str | None = None  # an escape sequence being read
        self._frame_num = 1  # the user-stream state the current keystroke will belong to
        self._in_flight: collections.deque[tuple[int, str]] = collections.deque(maxlen=256)

    # --- what the app tells the engine -------------------------------------------------------
    def set_send_interval(self, seconds: float) -> None:
        self._send_interval = seconds

    def reset(self) -> None:
        """Forget every guess (after a wrong shown guess, a resize, a large paste)."""
        self._rows.clear()
        self._cursors.clear()
        self._become_tentative()

    @property
    def active(self) -> bool:
        return bool(self._cursors) or any(g.active for row in self._rows.values() for g in row)

    @property
    def showing(self) -> bool:
        if self.mode == "never":
            return False
        return (
            self.mode in ("always", "experimental")
            or self.srtt_trigger
            or (self.glitch_trigger > 0)
        )

    def new_user_input(self, data: bytes, frame: Framebuffer, sent_num: int, now: float) -> None:
        """Guess the effect of `data`, typed when the newest sent user state was `sent_num`."""
        if self.mode == "never":
            return
        self.cull(frame, now)
        self._frame_num = sent_num + 1
        if len(data) > MAX_PREDICTED_PASTE:
            self.reset()
            self._in_flight.clear()  # a paste's effect cannot be replayed: guess afresh later
            self._decoder.reset()
            self._escape = None
            return
        text = self._decoder.decode(data)
        self._remember(text, frame.echo_ack)
        for char in text:
            self._new_char(char, frame, now)

    def _remember(self, text: str, echo_ack: int) -> None:
        """Keep the input the server has not echoed yet, to replay after a re-anchor."""
        while self._in_flight and self._in_flight[0][0] <= echo_ack:
            self._in_flight.popleft()
        if self._in_flight and self._in_flight[-1][0] == self._frame_num:
            self._in_flight[-1] = (self._frame_num, self._in_flight[-1][1] + text)
        else:
            self._in_flight.append((self._frame_num, text))

    def _reanchor(self, frame: Framebuffer, now: float) -> None:
        """Start over from the server's cursor, replaying the keys it has not echoed yet.

        Anchoring on the server's cursor alone would misplace every guess while keys are in
        flight, and each misplaced guess would kill the next epoch: with typing faster than the
        round trip, prediction would never come back.
        """
        frame_num, escape = self._frame_num, self._escape
        self._escape = None
        for num, text in list(self._in_flight):
            if num > frame.echo_ack:
                self._frame_num = num
                for char in text:
                    self._new_char(char, frame, now)
        self._frame_num, self._escape = frame_num, escape

    # --- judging guesses against the server's frame ------------------------------------------
    def cull(self, frame: Framebuffer, now: float) -> None:
        if self.mode == "never":
            return
        if self._geometry != (frame.width, frame.height):
            self._geometry = (frame.width, frame.height)
            self.reset()
        self._update_triggers()
        late_ack = frame.echo_ack
        for row_num in list(self._rows):
            if row_num >= frame.height:
                del self._rows[row_num]
                continue
            for col, guess in enumerate(self._rows[row_num]):
                if not guess.active:
                    continue
                verdict = self._judge_cell(guess, frame, row_num, col, late_ack)
                if verdict == _Verdict.INCORRECT:
                    if guess.epoch > self.confirmed_epoch:
                        self._kill_epoch(guess.epoch, frame, now)
                    else:
                        self.reset()  # a wrong guess was shown: back to the truth
                        self._reanchor(frame, now)
                        return
                elif verdict == _Verdict.CORRECT:
                    self._confirmed(guess, frame, row_num, col, now)
                    guess.active = False
                elif verdict == _Verdict.CORRECT_NO_CREDIT:
                    guess.active = False
                elif verdict == _Verdict.PENDING:
                    self._note_pending(guess, now)
        if self._cursors:
            newest = self._cursors[-1]
            if late_ack >= newest.expiration_frame and (
                (frame.cursor_row, frame.cursor_col) != (newest.row, newest.col)
            ):
                self.reset()
                self._reanchor(frame, now)
                return
        self._cursors = [c for c in self._cursors if late_ack < c.expiration_frame]

    def _update_triggers(self) -> None:
        interval = self._send_interval
        if interval > SRTT_TRIGGER_HIGH:
            self.srtt_trigger = True
        elif self.srtt_trigger and interval <= SRTT_TRIGGER_LOW and not self.active:
            self.srtt_trigger = False
        if interval > FLAG_TRIGGER_HIGH:
            self.flagging = True
        elif interval <= FLAG_TRIGGER_LOW:
            self.flagging = False
        if self.glitch_trigger > GLITCH_REPAIR_COUNT:
            self.flagging = True

    @staticmethod
    def _judge_cell(guess: CellGuess, frame: Framebuffer, row: int, col: int, late_ack: int) -> int:
        if col >= frame.width:
            return _Verdict.INCORRECT
        if late_ack < guess.expiration_frame:
            return _Verdict.PENDING
        if guess.unknown or guess.text == " ":
            return _Verdict.CORRECT_NO_CREDIT  # a blank matches too easily to prove anything
        if frame.rows[row].cells[col] != guess.text:
            return _Verdict.INCORRECT
        if guess.text in guess.originals:
            return _Verdict.CORRECT_NO_CREDIT  # the cell showed this already
        return _Verdict.CORRECT

    def _confirmed(
        self, guess: CellGuess, frame: Framebuffer, row_num: int, col: int, now: float
    ) -> None:
        self.confirmed_epoch = max(self.confirmed_epoch, guess.epoch)
        quick = now - guess.made_at < GLITCH_THRESHOLD
        if (
            quick
            and self.glitch_trigger > 0
            and now - GLITCH_REPAIR_MININTERVAL >= self._last_quick_confirmation
        ):
            self.glitch_trigger -= 1  # quick confirmations slowly undo a glitch
            self._last_quick_confirmation = now
        # The application chose the rendition: use it for the rest of the row's guesses.
        actual = frame.rows[row_num].renditions[col]
        for later in self._rows[row_num][col:]:
            later.rendition = actual

    def _note_pending(self, guess: CellGuess, now: float) -> None:
        waited = now - guess.made_at
        if waited >= GLITCH_FLAG_THRESHOLD:
            self.glitch_trigger = GLITCH_REPAIR_COUNT * 2  # show and underline
        elif waited >= GLITCH_THRESHOLD and self.glitch_trigger < GLITCH_REPAIR_COUNT:
            self.glitch_trigger = GLITCH_REPAIR_COUNT  # show

    def _kill_epoch(self, epoch: int, frame: Framebuffer, now: float) -> None:
        """Discard the unconfirmed guesses of `epoch` and later, unseen, and re-anchor."""
        self._cursors = [c for c in self._cursors if c.epoch < epoch]
        for row in self._rows.values():
            for guess in row:
                if guess.epoch >= epoch:
                    guess.active = False
        self._become_tentative()
        self._cursors.append(
            CursorGuess(
                frame.cursor_row, frame.cursor_col, self.prediction_epoch, self._frame_num, now
            )
        )
        self._reanchor(frame, now)

    # --- showing guesses ---------------------------------------------------------------------
    def apply(self, frame: Framebuffer) -> Framebuffer:
        """`frame` with the confirmed-epoch guesses drawn in (a copy; `frame` is untouched)."""
        if not self.showing or not self.active:
            return frame
        shown = frame.copy()
        for row_num, guesses in self._rows.items():
            if row_num < shown.height:
                shown.rows[row_num] = self._apply_row(shown.rows[row_num], guesses)
        for cursor in reversed(self._cursors):
            if cursor.epoch <= self.confirmed_epoch:
                if cursor.row < shown.height and cursor.col < shown.width:
                    shown.cursor_row, shown.cursor_col = cursor.row, cursor.col
                break
        return shown

    def _apply_row(self, row: Row, guesses: list[CellGuess]) -> Row:
        cells = list(row.cells)
        renditions = list(row.renditions)
        changed = False
        width = len(cells)
        for col, guess in enumerate(guesses[:width]):
            if not guess.active or guess.epoch > self.confirmed_epoch:
                continue
            flag = self.flagging and not (guess.text == " " and cells[col] == " ")
            if guess.unknown:
                if flag and col != width - 1:
                    renditions[col] = _underlined(renditions[col])
                    changed = True
                continue
            if cells[col] != guess.text or renditions[col] != guess.rendition:
                cells[col] = guess.text
                renditions[col] = _underlined(guess.rendition) if flag else guess.rendition
                changed = True
        if not changed:
            return row
        repair_wide_pairs(cells)
        return Row(tuple(cells), tuple(renditions))

    # --- making guesses ----------------------------------------------------------------------
    def _new_char(self, char: str, frame: Framebuffer, now: float) -> None:
        if self._escape is not None:
            self._escape_char(char, frame, now)
            return
        code = ord(char)
        if code == 0x1B:
            self._escape = ""
        elif code == 0x7F:
            self._backspace(frame, now)
        elif code == 0x0D:
            self._become_tentative()
            self._newline(frame, now)
        elif code < 0x20 or 0x80 <= code < 0xA0:
            self._become_tentative()
        else:
            width = char_width(char)
            if width == 0:
                self._become_tentative()  # a combining mark: its cell is not ours to guess
            else:
                self._print(char, width, frame, now)

    def _escape_char(self, char: str, frame: Framebuffer, now: float) -> None:
        assert self._escape is not None
        sequence = self._escape + char
        if sequence in ("[", "O") or (sequence.startswith("[") and not _is_final(char)):
            self._escape = sequence  # CSI parameters, or SS3 waiting for its letter
            return
        self._escape = None
        if sequence in ("[C", "OC"):
            self._move_cursor(+1, frame, now)
        elif sequence in ("[D", "OD"):
            self._move_cursor(-1, frame, now)
        else:
            self._become_tentative()

    def _become_tentative(self) -> None:
        if self.mode != "experimental":
            self.prediction_epoch += 1

    def _cursor(self, frame: Framebuffer, now: float) -> CursorGuess:
        """The cursor guess to move, started from the last guess or the server's cursor."""
        if not self._cursors:
            self._cursors.append(
                CursorGuess(
                    frame.cursor_row,
                    frame.cursor_col,
                    self.prediction_epoch,
                    self._frame_num,
                    now,
                )
            )
        elif self._cursors[-1].epoch != self.prediction_epoch:
            last = self._cursors[-1]
            self._cursors.append(
                CursorGuess(last.row, last.col, self.prediction_epoch, self._frame_num, now)
            )
        cursor = self._cursors[-1]
        cursor.row = min(cursor.row, frame.height - 1)
        cursor.col = min(cursor.col, frame.width - 1)
        return cursor

    def _touch(self, cursor: CursorGuess, now: float) -> None:
        cursor.expiration_frame = self._frame_num
        cursor.made_at = now

    def _row(self, row_num: int, width: int) -> list[CellGuess]:
        row = self._rows.get(row_num)
        if row is None or len(row) != width:
            row = [CellGuess(epoch=self.prediction_epoch) for _ in range(width)]
            self._rows[row_num] = row
        return row

    def _source(
        self, guesses: list[CellGuess], actual: Row, col: int
    ) -> tuple[bool, str, Rendition]:
        """What column `col` shows now, as far as we know: (unknown, text, rendition)."""
        guess = guesses[col]
        if guess.active:
            return guess.unknown, guess.text, guess.rendition
        return False, actual.cells[col], actual.renditions[col]

    def _print(self, char: str, width: int, frame: Framebuffer, now: float) -> None:
        cursor = self._cursor(frame, now)
        columns = frame.width
        if cursor.col + width > columns:
            # A wide character at the last column wraps first; guessing where is not worth it.
            self._become_tentative()
            self._newline(frame, now)
            return
        if cursor.col + width >= columns:
            self._become_tentative()  # the last column: shells and editors differ here
        actual = frame.rows[cursor.row]
        guesses = self._row(cursor.row, columns)
        # Insert: everything from the cursor on moves right by `width` columns.
        for col in range(columns - 1, cursor.col + width - 1, -1):
            guess = guesses[col]
            guess.renew(self.prediction_epoch, self._frame_num, now, actual.cells[col])
            if col == columns - 1:
                guess.unknown = True
            else:
                guess.unknown, guess.text, guess.rendition = self._source(
                    guesses, actual, col - width
                )
        rendition = self._rendition_for(guesses, actual, cursor.col)
        for offset, text in enumerate((char, "")[:width]):
            guess = guesses[cursor.col + offset]
            guess.renew(
                self.prediction_epoch, self._frame_num, now, actual.cells[cursor.col + offset]
            )
            guess.unknown, guess.text, guess.rendition = False, text, rendition
        self._touch(cursor, now)
        if cursor.col + width < columns:
            cursor.col += width
        else:
            self._become_tentative()
            self._newline(frame, now)

    def _rendition_for(self, guesses: list[CellGuess], actual: Row, col: int) -> Rendition:
        # Heuristic (upstream's): a typed character looks like the one to its left.
        if col == 0:
            return actual.renditions[0]
        unknown, _, rendition = self._source(guesses, actual, col - 1)
        return actual.renditions[col - 1] if unknown else rendition

    def _backspace(self, frame: Framebuffer, now: float) -> None:
        cursor = self._cursor(frame, now)
        if cursor.col == 0:
            return
        columns = frame.width
        actual = frame.rows[cursor.row]
        guesses = self._row(cursor.row, columns)
        _, left_text, _ = self._source(guesses, actual, cursor.col - 1)
        step = 2 if left_text == "" and cursor.col >= 2 else 1  # the right half of a wide char
        cursor.col -= step
        self._touch(cursor, now)
        # Delete: everything after the cursor moves left by `step` columns.
        for col in range(cursor.col, columns):
            guess = guesses[col]
            source = col + step
            unknown, text, rendition = (
                self._source(guesses, actual, source)
                if source < columns - 1
                else (True, " ", DEFAULT_RENDITION)
            )
            guess.renew(self.prediction_epoch, self._frame_num, now, actual.cells[col])
            guess.unknown, guess.text, guess.rendition = unknown, text, rendition

    def _move_cursor(self, delta: int, frame: Framebuffer, now: float) -> None:
        cursor = self._cursor(frame, now)
        target = cursor.col + delta
        if 0 <= target < frame.width:
            cursor.col = target
            self._touch(cursor, now)

    def _newline(self, frame: Framebuffer, now: float) -> None:
        cursor = self._cursor(frame, now)
        cursor.col = 0
        self._touch(cursor, now)
        if cursor.row < frame.height - 1:
            cursor.row += 1
            return
        # At the bottom the screen will scroll; scrolling is not predicted, but the new bottom
        # row is guessed blank so nothing stale shows under the cursor.
        for guess in self._row(cursor.row, frame.width):
            guess.renew(self.prediction_epoch, self._frame_num, now, " ")
            guess.unknown, guess.text, guess.rendition = False, " ", DEFAULT_RENDITION


def _is_final(char: str) -> bool:
    return 0x40 <= ord(char) <= 0x7E


def _underlined(rendition: Rendition) -> Rendition:
    return replace(rendition, attrs=rendition.attrs | UNDERLINE)

"""The tokenizer: decoded text in, calls on an `EmulatorScreen` out.

pyte's `Stream` pushes every byte of every escape sequence through a generator, raises out of
`feed()` on sequences vim sends (`CSI ? 4 m`, `CSI ? 6 n`), prints the tail of sequences it
does not know (`CSI ! p`, DCS strings) and drops text after ZWJ, VS16 or stray C0 bytes. This
tokenizer matches whole sequences with regular expressions, follows the DEC/ECMA-48 parser's
rules for what to ignore, carries an incomplete sequence over to the next `feed()`, and guards
every dispatch so one bad sequence costs only itself.

Output floods (`seq`, `yes`, `cat` of a big file) take a fast path: text that provably scrolls
away before any frame could show it is skipped, and only its lasting effects (cursor, pen,
bell count, REP's character) are applied. `termemu.flood` holds the argument.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from termemu.flood import skip_plain_lines, skip_run
from termemu.screen import PRIMARY_DA, EmulatorScreen

# The standard library's logging, not structlog: termemu must not depend on the daemon's
# logging stack (moshd forwards these records into its own log; see moshd.logging).
log = logging.getLogger(__name__)

# Printable text: everything but C0, DEL and C1. C1 code points (U+0080-U+009F) are ignored
# rather than obeyed: in UTF-8 they only come from mis-encoded text.
_TEXT = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")
# A CSI after its ESC [ : parameter bytes, intermediate bytes, final byte.
_CSI = re.compile(r"\[([\x30-\x3f]*)([\x20-\x2f]*)([\x40-\x7e])")
# What a CSI may contain before its final byte when C0 controls (executed in place) or DEL
# (ignored) are mixed in, or the bytes come in an order that makes the sequence invalid.
_CSI_BODY = re.compile(r"\[[\x00-\x17\x19\x1c-\x3f\x7f]*")
_CSI_JUNK = re.compile(r"[\x00-\x1f\x7f]")
_ESC_INTERMEDIATE = re.compile(r"[\x20-\x2f]+")
# Ends of OSC/DCS/SOS/PM/APC strings: BEL, CAN, SUB, ESC (for ESC \ or an aborting ESC), ST.
_STRING_END = re.compile(r"[\x07\x18\x1a\x1b\x9c]")
_TITLE_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_MAX_CARRY = 4096  # longest incomplete escape sequence kept across feeds
_MAX_OSC = 1 << 20  # OSC 52 carries base64 clipboard contents; larger strings are dropped
_MAX_PARAM = 0xFFFF
_MANY = 64  # handlers taking a list of parameters (modes) get at most this many
# After a flood check that found no long run, the next check waits this many characters: a
# vim-like stream then pays for one check per few escape sequences, not one per sequence,
# and a flood starting meanwhile is caught a few hundred characters late at most.
_FLOOD_RECHECK = 256

_STRING_NONE, _STRING_OSC, _STRING_IGNORE = 0, 1, 2
_STRING_STARTERS = {
    "]": _STRING_OSC,
    "P": _STRING_IGNORE,
    "X": _STRING_IGNORE,
    "^": _STRING_IGNORE,
    "_": _STRING_IGNORE,
}


def _int(text: str) -> int:
    """One numeric parameter (sub-parameters after ':' ignored), saturating, 0 if empty."""
    text = text.partition(":")[0]
    if len(text) > 5:
        text = text.lstrip("0")
        if len(text) > 5:
            return _MAX_PARAM
    return min(int(text), _MAX_PARAM) if text.isdigit() else 0


def _ints(params: str) -> list[int]:
    return [_int(p) for p in params.split(";")] if params else []


class Parser:
    """Turns decoded text into calls on an `EmulatorScreen`."""

    def __init__(self, screen: EmulatorScreen, fast_path: bool = True) -> None:
        self.screen = screen
        self.fast_path = fast_path
        self.flood_recheck = _FLOOD_RECHECK  # tests vary it: any ground-state position will do
        self._carry = ""  # an incomplete escape sequence from the end of the last feed
        self._string = _STRING_NONE  # inside an OSC (collected) or DCS/SOS/PM/APC (ignored)
        self._osc_parts: list[str] = []
        self._osc_size = 0
        self._resume = 0  # where to continue if a dispatch raises
        self.errors = 0
        self.skipped = 0  # characters the flood fast path proved invisible (tests, benchmarks)
        s = screen
        self._c0: dict[str, Callable[[], None]] = {
            "\x07": s.bell,
            "\x08": s.backspace,
            "\x09": s.tab,
            "\x0a": s.linefeed,
            "\x0b": s.linefeed,
            "\x0c": s.linefeed,
            "\x0d": s.carriage_return,
            "\x0e": s.shift_out,
            "\x0f": s.shift_in,
        }
        self._esc: dict[str, Callable[[], None]] = {
            "7": s.save_cursor,
            "8": s.restore_cursor,
            "D": s.index,
            "E": s.next_line,
            "H": s.set_tab_stop,
            "M": s.reverse_index,
            "c": s.reset,
            "Z": self._decid,
            "=": self._keypad_on,
            ">": self._keypad_off,
        }
        # Plain CSI (no private marker, no intermediates): final byte -> (handler, how many
        # numeric parameters it takes); extra parameters are dropped rather than crash it.
        self._csi: dict[str, tuple[Callable[..., None], int]] = {
            "@": (s.insert_characters, 1),
            "A": (s.cursor_up, 1),
            "B": (s.cursor_down, 1),
            "C": (s.cursor_forward, 1),
            "D": (s.cursor_back, 1),
            "E": (s.cursor_down1, 1),
            "F": (s.cursor_up1, 1),
            "G": (s.cursor_to_column, 1),
            "H": (s.cursor_position, 2),
            "I": (s.tab, 1),
            "J": (s.erase_in_display, 1),
            "K": (s.erase_in_line, 1),
            "L": (s.insert_lines, 1),
            "M": (s.delete_lines, 1),
            "P": (s.delete_characters, 1),
            "S": (s.scroll_up, 1),
            "T": (self._csi_scroll_down, _MANY),
            "X": (s.erase_characters, 1),
            "Z": (s.back_tab, 1),
            "`": (s.cursor_to_column, 1),
            "a": (s.cursor_forward, 1),
            "b": (s.repeat, 1),
            "c": (s.report_device_attributes, 1),
            "d": (s.cursor_to_line, 1),
            "e": (s.cursor_down, 1),
            "f": (s.cursor_position, 2),
            "g": (s.clear_tab_stop, 1),
            "h": (s.set_mode, _MANY),
            "l": (s.reset_mode, _MANY),
            "n": (s.report_device_status, 1),
            "r": (s.set_margins, 2),
            "s": (s.save_cursor, 0),
            "u": (s.restore_cursor, 0),
        }

    # --- the main loop ---------------------------------------------------------------------
    def feed(self, data: str) -> None:
        if self._carry:
            data = self._carry + data
            self._carry = ""
        screen = self.screen
        draw = screen.draw
        c0 = self._c0
        match_text = _TEXT.match
        self._resume = 0
        pos, n = 0, len(data)
        # The flood fast path (termemu.flood) needs more line feeds than the screen has rows;
        # `checked` is where the next look for a run may start: each character is scanned by
        # it at most once, so the cost stays linear.
        flood = self.fast_path and data.count("\n") > screen.lines
        checked = 0
        while pos < n:
            start = pos
            try:
                if self._string:
                    pos = self._consume_string(data, pos)
                    continue
                if flood and pos >= checked:
                    pos, checked = self._skip_flood(data, pos)
                    if pos == n:
                        break  # skipped to the end (termemu.flood.skip_plain_lines)
                m = match_text(data, pos)
                if m is not None:
                    pos = m.end()
                    draw(m.group())
                    continue
                char = data[pos]
                pos += 1
                if char == "\x1b":
                    self._resume = pos
                    pos = self._escape(data, pos)
                elif char == "\r" and data.startswith("\n", pos):
                    pos += 1  # CR LF ends almost every line of output: one turn, not two
                    screen.carriage_return()
                    screen.linefeed()
                else:
                    handler = c0.get(char)
                    if handler is not None:
                        handler()
            except Exception:
                self._failed(data, start)
                pos = max(pos, self._resume, start + 1)

    def _skip_flood(self, data: str, pos: int) -> tuple[int, int]:
        """(where to go on, where to look for the next run)."""
        try:
            quick = skip_plain_lines(self.screen, data, pos)
            if quick > pos:
                self.skipped += quick - pos
                return quick, quick
            resume, retry, end = skip_run(self.screen, data, pos)
            self.skipped += resume - pos
            if resume == pos and retry is not None:
                return pos, retry  # scrollback: the screen may be ready a few lines on
            return resume, max(end, pos + self.flood_recheck)
        except Exception:  # a bug: skip_flood changes nothing before it is sure; emulate fully
            self.errors += 1
            self.fast_path = False
            log.warning("emulator.fast_path_failed", exc_info=True)
            end = len(data)
        return pos, max(end, pos + self.flood_recheck)

    def _failed(self, data: str, start: int) -> None:
        self.errors += 1
        log.debug(
            "emulator.dispatch_failed", extra={"at": repr(data[start : start + 32])}, exc_info=True
        )
        self.screen.repair()

    # --- escape sequences --------------------------------------------------------------------
    def _escape(self, data: str, pos: int) -> int:
        """Handle what follows an ESC at data[pos - 1]; returns where to continue."""
        if pos >= len(data):
            return self._keep(data, pos - 1)
        char = data[pos]
        if char == "[":
            return self._csi_sequence(data, pos)
        kind = _STRING_STARTERS.get(char)
        if kind is not None:
            self._string = kind
            self._osc_parts, self._osc_size = [], 0
            return pos + 1
        if "\x20" <= char <= "\x2f":
            m = _ESC_INTERMEDIATE.match(data, pos)
            assert m is not None
            end = m.end()
            if end >= len(data):
                return self._keep(data, pos - 1)
            final = data[end]
            if not "\x30" <= final <= "\x7e":
                return end  # malformed: drop ESC and intermediates, reprocess the rest
            self._resume = end + 1
            self._esc_intermediate(m.group(), final)
            return end + 1
        if "\x30" <= char <= "\x7e":
            self._resume = pos + 1
            handler = self._esc.get(char)
            if handler is not None:
                handler()
            return pos + 1
        return pos  # ESC followed by a control or non-ASCII: the ESC is dropped

    def _esc_intermediate(self, intermediates: str, final: str) -> None:
        if intermediates in ("(", ")"):
            self.screen.define_charset(final, intermediates)
        elif intermediates == "#" and final == "8":
            self.screen.alignment_display()
        # G2/G3 designations, ESC % (UTF-8 selection), ESC SP F, ...: nothing to show.

    def _keep(self, data: str, start: int) -> int:
        """Carry an incomplete sequence to the next feed (unless it is absurdly long)."""
        if len(data) - start <= _MAX_CARRY:
            self._carry = data[start:]
        return len(data)

    def _csi_sequence(self, data: str, pos: int) -> int:
        m = _CSI.match(data, pos)
        if m is not None:
            end = m.end()
            self._resume = end
            self._csi_dispatch(m.group(1), m.group(2), m.group(3))
            return end
        body = _CSI_BODY.match(data, pos)
        assert body is not None
        end = body.end()
        if end >= len(data):
            return self._keep(data, pos - 1)
        final = data[end]
        if not "\x40" <= final <= "\x7e":
            # ESC, CAN, SUB or a non-ASCII character aborts the sequence; CAN/SUB are eaten.
            return end + 1 if final in "\x18\x1a" else end
        self._resume = end + 1
        # C0 controls inside a CSI are executed where they stand; DEL is ignored.
        inner = data[pos + 1 : end]
        for char in _CSI_JUNK.findall(inner):
            handler = self._c0.get(char)
            if handler is not None:
                handler()
        clean = _CSI_JUNK.sub("", inner) + final
        m = _CSI.match("[" + clean)
        if m is not None:
            self._csi_dispatch(m.group(1), m.group(2), m.group(3))
        return end + 1  # otherwise malformed (parameter after intermediate): ignored whole

    def _csi_dispatch(self, params: str, intermediates: str, final: str) -> None:
        marker = ""
        if params and params[0] in "<=>?":
            marker, params = params[0], params[1:]
        if "<" in params or "=" in params or ">" in params or "?" in params:
            return  # a marker anywhere else makes the sequence invalid
        if intermediates:
            if marker == "" and intermediates == "!" and final == "p":
                self.screen.soft_reset()
            return  # CSI 0 % m, CSI SP q, CSI ? ... $ p, ...: tolerated, never printed
        if marker == "":
            if final == "m":
                self.screen.sgr(params)
                return
            entry = self._csi.get(final)
            if entry is not None:
                handler, arity = entry
                handler(*_ints(params)[:arity])
        elif marker == "?":
            self._csi_private(params, final)
        elif marker == ">" and final == "c" and _ints(params) in ([], [0]):
            self.screen.report_device_attributes(0, secondary=True)
        # Other private forms (CSI > 4;2 m, CSI ? 4 m, kitty's CSI > 1 u, ...): ignored.

    def _csi_private(self, params: str, final: str) -> None:
        screen = self.screen
        values = _ints(params)
        if final == "h":
            screen.set_mode(*values, private=True)
        elif final == "l":
            screen.reset_mode(*values, private=True)
        elif final == "n" and values:
            screen.report_device_status(values[0], private=True)
        elif final == "J":  # DECSED: no protected cells here, so it is ED
            screen.erase_in_display(values[0] if values else 0)
        elif final == "K":  # DECSEL
            screen.erase_in_line(values[0] if values else 0)

    def _csi_scroll_down(self, *params: int) -> None:
        # CSI T with more than one parameter is xterm's mouse highlight tracking, not SD.
        if len(params) <= 1:
            self.screen.scroll_down(*params)

    def _decid(self) -> None:
        self.screen.replies += PRIMARY_DA

    def _keypad_on(self) -> None:
        self.screen.app_keypad = True

    def _keypad_off(self) -> None:
        self.screen.app_keypad = False

    # --- OSC, DCS, SOS, PM, APC --------------------------------------------------------------
    def _consume_string(self, data: str, pos: int) -> int:
        m = _STRING_END.search(data, pos)
        if m is None:
            self._collect(data[pos:])
            return len(data)
        end = m.start()
        self._collect(data[pos:end])
        char = data[end]
        if char == "\x1b":
            if end + 1 >= len(data):
                self._carry = "\x1b"  # ESC \ may be split across feeds
                return len(data)
            # ESC \ is the terminator; any other ESC ends the string and starts a sequence.
            self._resume = end + 2 if data[end + 1] == "\\" else end
            self._finish_string()
            return self._resume
        if char in "\x18\x1a":  # CAN / SUB abort the string
            self._string = _STRING_NONE
            self._osc_parts = []
            return end + 1
        self._resume = end + 1
        self._finish_string()  # BEL or ST
        return end + 1

    def _collect(self, text: str) -> None:
        if self._string != _STRING_OSC or not text:
            return
        self._osc_size += len(text)
        if self._osc_size <= _MAX_OSC:
            self._osc_parts.append(text)
        else:
            self._osc_parts = []  # too long to be meaningful: drop the whole string

    def _finish_string(self) -> None:
        kind, parts = self._string, self._osc_parts
        self._string = _STRING_NONE
        self._osc_parts = []
        if kind == _STRING_OSC and self._osc_size <= _MAX_OSC:
            self._osc("".join(parts))

    def _osc(self, text: str) -> None:
        code, _, rest = text.partition(";")
        screen = self.screen
        if code in ("0", "1", "2"):
            value = _TITLE_JUNK.sub("", rest)
            if code in ("0", "1"):
                screen.set_icon_name(value)
            if code in ("0", "2"):
                screen.set_title(value)
        elif code == "52":
            selection, sep, payload = rest.partition(";")
            if sep and payload != "?":  # a query asks to read the clipboard: not forwarded
                screen.set_clipboard(selection, payload)
        # OSC 7 (cwd), 8 (hyperlinks: the text is kept, the link dropped), 10/11 (colour
        # queries), 133 (shell integration), 1337, ...: ignored, never touch the title.

"""Modes: SM/RM and DECSET/DECRST, the forwarded modes a frame carries (`modes()`, from the table
in `ssp.screen`), DECSTR, the alternate screen, DECCOLM and the character sets (SI, SO, SCS)."""

from __future__ import annotations

from pyte import charsets as cs
from pyte import modes as mo

from ssp.screen import CHOICE_MODES, DEFAULT_COLOR, DEFAULT_RENDITION, FLAG_MODES, Modes
from termemu.lines import blank_line
from termemu.screenbase import DECCKM, FLAG_BITS, TRACKED_PRIVATE, ScreenBase

_TRACKED_ANSI = frozenset({4, 20})  # IRM, LNM
_CHOICE_OF = {number: choice.name for choice in CHOICE_MODES for number in choice.numbers}
_FLAG_NAMES = tuple(flag.name for flag in FLAG_MODES)


class ModeHandling(ScreenBase):
    def modes(self) -> Modes:
        """The forwarded modes (`ssp.screen.FLAG_MODES`, `CHOICE_MODES`) as a frame carries
        them; the same object as long as none changed."""
        mode = self.mode
        key = (*(bit in mode for bit in FLAG_BITS), *self.choice_modes.values())
        if key != self._modes_key:
            self._modes_key = key
            flags = dict(zip(_FLAG_NAMES, key[: len(_FLAG_NAMES)], strict=True))
            self._modes = Modes(**flags, **self.choice_modes)  # type: ignore[arg-type]
        return self._modes

    def set_mode(self, *modes: int, **kwargs: object) -> None:
        self._switch_modes(modes, True, bool(kwargs.get("private")))

    def reset_mode(self, *modes: int, **kwargs: object) -> None:
        self._switch_modes(modes, False, bool(kwargs.get("private")))

    def _switch_modes(self, modes: tuple[int, ...], on: bool, private: bool) -> None:
        for mode in modes:
            if private:
                self._set_private_mode(mode, on)
            elif mode in _TRACKED_ANSI:
                if on:
                    self.mode.add(mode)
                else:
                    self.mode.discard(mode)

    def _set_private_mode(self, mode: int, on: bool) -> None:
        if mode in TRACKED_PRIVATE:  # the forwarded flags (DECNKM 66 among them), DECOM, DECAWM
            if on:
                self.mode.add(mode << 5)
            else:
                self.mode.discard(mode << 5)
            if mode == 6:  # DECOM homes the cursor either way
                self.cursor_position()
        elif mode in _CHOICE_OF:  # the last one set wins; resetting it turns the choice off
            name = _CHOICE_OF[mode]
            if on:
                self.choice_modes[name] = mode
            elif self.choice_modes[name] == mode:
                self.choice_modes[name] = 0
        elif mode in (47, 1047, 1049):
            if on:
                self._alternate_on(save_cursor=mode == 1049)
            else:
                self._alternate_off(restore_cursor=mode == 1049)
        elif mode == 1048:
            if on:
                self.save_cursor()
            else:
                self.restore_cursor()
        elif mode == 3:
            self._column_mode()
        # Other modes have no effect on the screen.

    def _column_mode(self) -> None:
        """DECCOLM (?3 set or reset): what a VT100 does when switching between 80 and 132
        columns, except the switch itself: an application must not resize the session (pyte
        resized the screen to 132 columns), so the column count stays. The margins are reset,
        the cursor homed and the screen cleared in the background colour."""
        self.margins = None
        self.cursor_position()
        self.erase_in_display(2)

    def soft_reset(self) -> None:
        """DECSTR (CSI ! p)."""
        self.mode.difference_update({mo.IRM, mo.DECOM, DECCKM})
        self.mode.update({mo.DECTCEM, mo.DECAWM})
        self.app_keypad = False
        self.margins = None
        self._set_pen((DEFAULT_COLOR, DEFAULT_COLOR, 0))
        self.g0_charset = self.g1_charset = cs.LAT1_MAP
        self.charset = 0
        self._update_translate()
        self.saved = None

    # --- the alternate screen ------------------------------------------------------------------
    def _alternate_on(self, save_cursor: bool) -> None:
        """?47/?1047/?1049 set, as tmux: a cleared alternate screen; ?1049 saves the cursor."""
        if self._main_grid is not None:
            return
        if save_cursor:
            self._alt_saved = (self.cursor.x, self.cursor.y, self.pen_tuple)
        self._main_grid = self.grid
        self.grid = [blank_line(self.columns, DEFAULT_RENDITION) for _ in range(self.lines)]

    def _alternate_off(self, restore_cursor: bool) -> None:
        """Back to the main screen, exactly as it was; ?1049 restores the cursor and pen."""
        if self._main_grid is not None:
            self.grid = self._main_grid
            self._main_grid = None
        if restore_cursor and self._alt_saved is not None:
            x, y, pen = self._alt_saved
            self.cursor.x = min(x, self.columns - 1)
            self.cursor.y = min(y, self.lines - 1)
            self._set_pen(pen)

    # --- character sets ------------------------------------------------------------------------
    def shift_in(self) -> None:
        self.charset = 0
        self._update_translate()

    def shift_out(self) -> None:
        self.charset = 1
        self._update_translate()

    def define_charset(self, code: str, mode: str) -> None:
        # Only ASCII ("B") and DEC special graphics ("0"), as tmux; pyte's "U"/"V" are the
        # Linux console's IBM maps, which no xterm-like terminal uses.
        table = cs.VT100_MAP if code == "0" else cs.LAT1_MAP
        if mode == "(":
            self.g0_charset = table
        elif mode == ")":
            self.g1_charset = table
        self._update_translate()

"""The screen is split by job into mixins (`termemu.screen`'s docstring): no two of them may
define the same name, or the order of the bases would silently decide which one runs."""

from __future__ import annotations

import itertools

from termemu.drawing import Drawing
from termemu.editing import Editing
from termemu.modes import ModeHandling
from termemu.motion import Motion
from termemu.screen import EmulatorScreen
from termemu.screenbase import ScreenBase

_PARTS = (EmulatorScreen, Drawing, Editing, Motion, ModeHandling, ScreenBase)


def _own_names(cls: type) -> set[str]:
    return {name for name in vars(cls) if not (name.startswith("__") and name.endswith("__"))}


def test_no_two_parts_define_the_same_name() -> None:
    for first, second in itertools.combinations(_PARTS, 2):
        assert not _own_names(first) & _own_names(second), (first, second)


def test_every_part_is_in_the_screen() -> None:
    assert all(issubclass(EmulatorScreen, part) for part in _PARTS)

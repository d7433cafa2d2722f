"""Facts about processes that tests wait on."""

from __future__ import annotations

from pathlib import Path


def alive(pid: int) -> bool:
    """Whether `pid` runs: a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may hold anything.
    fields = stat.rsplit(")", 1)
    return len(fields) == 2 and fields[1].split()[:1] != ["Z"]

"""UDP port numbers: the highest one and the grammar of a port range, `PORT[:PORT2]`.

One definition for the `mosh` wrapper's `-p` (`mosh_client.mosh_args`), mosh-client's PORT
argument (`mosh_client.client_args`) and the server side (`moshd.ports`: `mosh-server -p`,
`moshd --port`, a `new` request). Standard library only, so the short-lived commands can
import it. The limits each applies (whether 0 may start a range) and the wording of its errors
stay with each caller: the wrapper's messages copy upstream's.
"""

from __future__ import annotations

MAX_PORT = 65535


def port_number(text: str) -> int | None:
    """`text` as a number if it is ASCII digits only (no sign, no blank, no other script's
    digits), else None. Not checked against 0..MAX_PORT."""
    return int(text) if text.isascii() and text.isdigit() else None


def split_port_range(text: str) -> tuple[int, int | None] | None:
    """`PORT` or `PORT:PORT2` as (PORT, PORT2 or None); None if `text` is not of that form.
    The numbers are not checked against any range."""
    low_text, colon, high_text = text.partition(":")
    low = port_number(low_text)
    if low is None:
        return None
    if not colon:
        return low, None
    high = port_number(high_text)
    return None if high is None else (low, high)

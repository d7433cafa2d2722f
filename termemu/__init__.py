"""termemu: an xterm-like terminal emulator (pyte's screen, corrected) that renders into
`ssp.screen.Framebuffer`s.

Used by the daemon for each session's terminal, and meant for the client too: it imports only
ssp and pyte (never trio, structlog or moshd). It logs through the standard `logging` module
under the `termemu` logger; the application decides where that goes (moshd forwards it into
its own log). Until then the records are dropped: a client owns the terminal, and Python's
last-resort handler would print warnings onto the screen it draws.
"""

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())

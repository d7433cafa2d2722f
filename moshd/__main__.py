"""`python -m moshd`: run the daemon (how `mosh-server` starts it detached)."""

import sys

from moshd.daemon_cli import daemon_main

sys.exit(daemon_main())

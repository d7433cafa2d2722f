"""moshd: the per-user daemon that owns mosh sessions, and the `mosh-server` command."""

__version__ = "0.1.0"

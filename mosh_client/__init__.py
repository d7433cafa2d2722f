"""mosh-client and the `mosh` wrapper."""

"""moshd under systemd: sd_notify, socket activation, the units, journald fields."""

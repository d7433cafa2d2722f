"""The `mosh` wrapper's bootstrap: start `mosh-server new` over ssh (or locally), read its
`MOSH CONNECT <port> <key>`, learn which IP to reach it on, then run the client.

Behaviour follows upstream's `scripts/mosh.pl`:
- The server command is `SERVER new -c COLORS [-s | -i IP] [-p PORT] [-l NAME=VALUE]...
  [-- command...]`; COLORS is what `CLIENT -c` prints; SERVER is a shell command (so
  `--server="env X=1 mosh-server"` works) and its arguments are shell-quoted.
- ssh runs as `SSH -n -tt [-4|-6] [-S none -o ProxyCommand=...] USERHOST -- COMMAND`, its
  stderr merged into the stdout we read. `-tt` gives password prompts and the remote shell a
  terminal; prompts go to /dev/tty, never through our pipe.
- Where the client should send UDP (`--experimental-remote-ip`):
  `proxy` (default): ssh's ProxyCommand is `mosh --fake-proxy -- %h %p`, which connects to
  the host the way ssh would have, prints `MOSH IP <address>` on stderr and relays bytes —
  so the client uses exactly the address ssh reached, whatever ssh_config said.
  `local`: resolve the host here and give ssh the address.
  `remote`: the remote side prints `MOSH SSH_CONNECTION ...` from $SSH_CONNECTION.
- `--local`: run the server command here through /bin/sh, without SSH_CONNECTION, in $HOME.
- The client gets MOSH_KEY, MOSH_PREDICTION_DISPLAY, MOSH_NO_TERM_INIT=1 for `--no-init`,
  MOSH_PREDICTION_OVERWRITE=yes for `-o`; MOSH_ESCAPE_KEY and MOSH_TITLE_NOPREFIX reach it
  through the inherited environment. A `--client=PATH` is exec'd with them and with
  `-# '<original args> |'` for ps.

Where we differ: lines that are not MOSH lines are held back rather than echoed as they
arrive; on success they are printed before the client starts, on failure the error is one
line built from the most telling of them (ssh's last message, the proxy's error). Upstream's
`die` exits with whatever errno was last set; we always exit 255 (what ssh uses). Our own
client runs in this process (its modules are imported while the server starts: start-up
time), not as a second program; for `--local`, the mosh-server installed beside this `mosh`
is preferred to the one on PATH (a virtualenv need not be on PATH).

The modules, in the order a bootstrap uses them: `server_command` (the command line and
ssh's argv), `programs` (which mosh-server, and this `mosh` for ssh's ProxyCommand),
`environment`, `server_start` (run it until `MOSH CONNECT`), `server_output` (read what it
says, explain a failure), `addresses` (resolve the host), `client_launch` and `run` (the whole
sequence); `fake_proxy` is the separate `mosh --fake-proxy` program mode, and `errors` the
error every step raises.
"""

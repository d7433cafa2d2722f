"""Upstream mosh's protocol 2, sans-IO: what stock `mosh-client` and `mosh-server` speak.

- `key`: the 16-byte key (22 characters of base64), and `parse_connect_key`, which tells a
  `MOSH CONNECT` key of either protocol apart; light (no `cryptography`).
- `crypto`: AES-128-OCB3 sealing under the 12-byte nonce upstream derives from 8 bytes.
- `protobuf`: the few bits of the protobuf wire format the three message types need.
- `messages`: TransportInstruction, UserMessage (client → server), HostMessage (server →
  client).
- `userstream`: the client's keystrokes and resizes, diffed as UserMessage.
- `wire`: `Proto2Wire`, the datagram format, for `ssp.transport.Endpoint(..., wire=...)`.

Timers, acknowledgments, fragments and shutdown are SSP's own (ssp.sender, ssp.transport):
upstream's rules are the same. Submodules are imported on demand; this package imports none.
"""

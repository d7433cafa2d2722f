"""The client's network task against the in-process daemon, through the impairment proxy."""

from __future__ import annotations

from dataclasses import replace

import pytest
import trio

from mosh_client.network import ClientNetwork
from moshd.control import NewRequest
from ssp.crypto import Key
from ssp.timing import Timers
from testsupport.impair import open_proxy

from .conftest import StartDaemon

pytestmark = pytest.mark.trio


async def test_client_hops_ports_after_the_hop_interval_without_a_round_trip(
    start_daemon: StartDaemon,
) -> None:
    # Upstream hops after 10 s. Shorter here, with heartbeats (and so round trips) often enough
    # that only the blackout, never the wait for the next heartbeat, outlasts the interval.
    heartbeats = Timers(ack_interval=0.5)
    daemon = await start_daemon(heartbeats)
    reply = await daemon.create_session(NewRequest(command=["/bin/sh"]))
    async with open_proxy(("127.0.0.1", int(reply["port"])), seed=1) as proxy:
        host, port = proxy.address
        changed = trio.Event()
        network = ClientNetwork(
            Key.from_text(str(reply["key"])),
            host,
            port,
            lambda e: changed.set(),
            timers=replace(heartbeats, port_hop_interval=2.0),
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(network.run)
            with trio.fail_after(5):
                await changed.wait()  # connected
            first_client = proxy.client_address
            proxy.blackout(True)
            await trio.sleep(3.0)
            proxy.blackout(False)
            stream = network.endpoint.local_state.copy()
            stream.push_keystroke(b"echo hopped-$((2+3))\r")
            network.endpoint.set_local_state(stream, trio.current_time())
            network.wake()
            with trio.fail_after(10):
                while "hopped-5" not in "\n".join(network.endpoint.remote_state.text_lines()):
                    await trio.sleep(0.05)
            assert proxy.client_address != first_client  # a new source port
            assert proxy.client_address[0] == first_client[0]
            nursery.cancel_scope.cancel()

"""A host's addresses, in the order `--family` asks for: for the fake proxy's connection and
for `--experimental-remote-ip=local`."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, TypeAlias

from mosh_client.bootstrap.errors import BootstrapError
from mosh_client.mosh_args import Family

GetAddrInfo: TypeAlias = Callable[..., list[tuple[Any, ...]]]

_FAMILIES = {"inet": socket.AF_INET, "inet6": socket.AF_INET6}


def resolve(
    host: str, port: str, family: Family, getaddrinfo: GetAddrInfo = socket.getaddrinfo
) -> list[tuple[socket.AddressFamily, Any]]:
    """(family, sockaddr) pairs to try for a TCP connection, in order, as `--family` says."""
    wanted = _FAMILIES.get(family, socket.AF_UNSPEC)
    try:
        infos = getaddrinfo(host, port, wanted, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        which = {"inet": "an IPv4 ", "inet6": "an IPv6 "}.get(family, "an ")
        raise BootstrapError(
            f"could not find {which}address for {host}: {exc.strerror}"
            + (" (try another --family)" if family in _FAMILIES else "")
        ) from None
    return order_addresses(host, [(info[0], info[4]) for info in infos], family)


def order_addresses(
    host: str, addresses: list[tuple[socket.AddressFamily, Any]], family: Family
) -> list[tuple[socket.AddressFamily, Any]]:
    unique = list(dict.fromkeys((fam, tuple(addr)) for fam, addr in addresses))
    if family in _FAMILIES:
        chosen = [item for item in unique if item[0] == _FAMILIES[family]]
        if not chosen:
            kind = "IPv4" if family == "inet" else "IPv6"
            raise BootstrapError(f"{host} has no {kind} address (--family={family})")
        return chosen
    if family.startswith("prefer-"):
        first = _FAMILIES[family.removeprefix("prefer-")]
        return [i for i in unique if i[0] == first] + [i for i in unique if i[0] != first]
    if family == "auto" and len({fam for fam, _ in unique}) > 1:
        raise BootstrapError(
            f"{host} has both IPv4 and IPv6 addresses, use --family to specify behavior"
        )
    return unique


def resolve_first(host: str, family: Family) -> str:
    """`--experimental-remote-ip=local`: the address ssh and the client will both use."""
    candidates = resolve(host, "22", family)
    if not candidates:
        raise BootstrapError(f"could not find an address for {host}")
    return str(candidates[0][1][0])

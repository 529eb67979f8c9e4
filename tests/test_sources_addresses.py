"""Which addresses an `http` source may reach: the classification alone, no connection made.

Each IPv6 form that carries an IPv4 address has a public and a private example: the carried address
decides, whatever Python thinks of the IPv6 prefix around it.
"""

from __future__ import annotations

import ipaddress

import pytest

from erpsync.sources.policy import embedded_ipv4, is_public

TEREDO_SERVER = "65.54.227.120"

# (address, the IPv4 addresses it carries, public?)
ADDRESSES: list[tuple[str, tuple[str, ...], bool]] = [
    # IPv4
    ("93.184.215.14", (), True),
    ("8.8.8.8", (), True),
    ("127.0.0.1", (), False),
    ("10.1.2.3", (), False),
    ("172.16.0.1", (), False),
    ("192.168.1.1", (), False),
    ("169.254.169.254", (), False),
    ("0.0.0.0", (), False),
    ("224.0.0.1", (), False),
    ("240.0.0.1", (), False),
    ("255.255.255.255", (), False),
    # Shared address space (RFC 6598): the carrier's NAT, private to the network the VM is on.
    ("100.64.0.1", (), False),
    ("100.127.255.254", (), False),
    ("100.63.255.255", (), True),
    ("100.128.0.1", (), True),
    # Native IPv6
    ("2606:4700:4700::1111", (), True),
    ("::1", (), False),
    ("::", (), False),
    ("fe80::1", (), False),
    ("fe80::1%eth0", (), False),
    ("fd12:3456::1", (), False),
    ("ff02::1", (), False),
    ("2001:db8::1", (), False),
    # IPv4-mapped ::ffff:a.b.c.d
    ("::ffff:8.8.8.8", ("8.8.8.8",), True),
    ("::ffff:127.0.0.1", ("127.0.0.1",), False),
    ("::ffff:100.64.0.1", ("100.64.0.1",), False),
    # IPv4-compatible ::a.b.c.d (deprecated)
    ("::8.8.8.8", ("8.8.8.8",), True),
    ("::127.0.0.1", ("127.0.0.1",), False),
    ("::192.168.0.1", ("192.168.0.1",), False),
    # 6to4 2002::/16
    ("2002:808:808::1", ("8.8.8.8",), True),
    ("2002:7f00:1::", ("127.0.0.1",), False),
    ("2002:a9fe:a9fe::", ("169.254.169.254",), False),
    ("2002:6440:1::", ("100.64.0.1",), False),
    # NAT64 well-known prefix 64:ff9b::/96
    ("64:ff9b::8.8.8.8", ("8.8.8.8",), True),
    ("64:ff9b::7f00:1", ("127.0.0.1",), False),
    ("64:ff9b::10.0.0.1", ("10.0.0.1",), False),
    # NAT64 local-use prefix 64:ff9b:1::/48 (RFC 8215)
    ("64:ff9b:1::8.8.8.8", ("8.8.8.8",), True),
    ("64:ff9b:1:2::8.8.8.8", ("8.8.8.8",), True),
    ("64:ff9b:1::a9fe:a9fe", ("169.254.169.254",), False),
    # Teredo 2001::/32: server, then client (stored inverted)
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", (TEREDO_SERVER, "8.8.8.8"), True),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", (TEREDO_SERVER, "127.0.0.1"), False),
    ("2001:0:a00:1:8000:63bf:f7f7:f7f7", ("10.0.0.1", "8.8.8.8"), False),
]


@pytest.mark.parametrize(("address", "carried", "public"), ADDRESSES, ids=[row[0] for row in ADDRESSES])
def test_sources_address_is_judged_by_where_it_leads(
    address: str, carried: tuple[str, ...], public: bool
) -> None:
    """A feed URL whose host resolves to the VM itself, its LAN, its carrier's NAT or the cloud's metadata
    service, spelt plainly or wrapped in an IPv6 form, is refused; a public host, in any form, is fetched."""
    ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        assert embedded_ipv4(ip) == tuple(ipaddress.IPv4Address(each) for each in carried)
    assert is_public(address) is public

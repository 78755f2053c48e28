"""The network rule: which addresses a webhook may reach, decided before any connection."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from labeler.errors import ValidationFailed
from labeler.webhooks.addresses import address_refusal, networks_parse, target_resolve, url_parse

REFUSED = [
    "127.0.0.1",  # loopback
    "10.1.2.3",  # private
    "172.16.0.9",
    "192.168.1.1",
    "100.64.0.1",  # shared (carrier NAT)
    "169.254.169.254",  # link-local: the cloud metadata service
    "224.0.0.251",  # multicast
    "240.0.0.1",  # reserved
    "0.0.0.0",  # unspecified
    "::1",
    "::",
    "fe80::1",
    "fc00::1",  # unique local
    "ff02::1",
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
]


@pytest.fixture(autouse=True)
def no_connection(monkeypatch):
    """Nothing here may open a connection: a refusal comes first."""

    def refuse(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("address", REFUSED)
def test_private_and_special_addresses_are_refused(address):
    assert address_refusal(ipaddress.ip_address(address)) is not None
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(ValidationFailed, match="webhooks are sent only to public addresses"):
        target_resolve(f"https://{host}/hook")


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "1.1.1.1"])
def test_public_addresses_are_allowed(address):
    host = f"[{address}]" if ":" in address else address
    target = target_resolve(f"https://{host}:8443/in?x=1")
    assert target.addresses == (address,) and target.port == 8443 and target.path == "/in?x=1"


def test_an_allowed_network_lets_its_addresses_through_and_no_others():
    allowed = networks_parse(["10.0.0.0/8", "::1"])
    assert target_resolve("http://10.9.8.7/", allowed=allowed).addresses == ("10.9.8.7",)
    assert target_resolve("http://[::1]:81/", allowed=allowed).host_header == "[::1]:81"
    with pytest.raises(ValidationFailed, match=r"192\.168\.0\.1"):
        target_resolve("http://192.168.0.1/", allowed=allowed)
    with pytest.raises(ValidationFailed, match=r"169\.254\.169\.254"):
        target_resolve("http://169.254.169.254/latest/meta-data/", allowed=allowed)


def test_a_name_is_resolved_and_every_address_checked():
    """localhost resolves to loopback: refused by name as by address."""
    with pytest.raises(ValidationFailed, match="localhost resolves to"):
        target_resolve("http://localhost:8000/hook")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://8.8.8.8/", "http:// or https://"),
        ("https://user:pw@8.8.8.8/", "no user name or password"),
        ("https:///path", "names a host"),
        ("https://8.8.8.8:99999/", "Not a valid URL"),
        ("https://8.8.8.8/a b", "no spaces"),
        ("", "1 to 2000"),
        ("https://8.8.8.8/" + "a" * 2000, "1 to 2000"),
        ("https://8.8.8.8/\x00", "NUL"),
    ],
)
def test_bad_urls_say_what_is_wrong(url, words):
    with pytest.raises(ValidationFailed, match=words):
        url_parse(url)


def test_an_unresolvable_name_is_refused():
    with pytest.raises(ValidationFailed, match="could not be resolved"):
        target_resolve("https://no-such-host.invalid/")

"""Where a webhook may send: the one rule against server-side request forgery.

A webhook's address is checked when it is registered and again before every attempt,
by ``target_resolve``: http or https only, no credentials in it, and its host resolved
here, every address it resolves to checked. Loopback, private, shared (carrier NAT),
link-local (the cloud metadata service at 169.254.169.254), multicast, reserved and
unspecified addresses are refused, in IPv4 and IPv6 alike (IPv4 inside IPv6: mapped,
6to4, Teredo, NAT64), unless an admin allows their network in
``LABELER_WEBHOOK_ALLOWED_NETWORKS``. The sender then connects to the very address that
was checked (``labeler.webhooks.sending``), so a name that resolves differently a moment
later (DNS rebinding) is never followed. No connection is made before the check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from labeler.errors import ValidationFailed
from labeler.text_in import text_refuse_unsafe

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
URL_MAX = 2000
NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class Target:
    """A checked address: where to connect (``addresses``, every one allowed) and what to ask."""

    scheme: str
    host: str  # as written (a name, or an address without brackets)
    port: int
    path: str  # path and query, "/" at least
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def networks_parse(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The allowed networks from their CIDR texts (``10.0.0.0/8``, ``::1/128``, an address)."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value)


def url_parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a webhook address, or ValidationFailed saying why not."""
    text_refuse_unsafe(url, field="url")
    if not url or len(url) > URL_MAX:
        raise ValidationFailed(f"A webhook's URL is 1 to {URL_MAX} characters.", field="url")
    if any(ch.isspace() for ch in url):
        raise ValidationFailed("A webhook's URL holds no spaces.", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationFailed(f"Not a valid URL: {exc}.", field="url") from exc
    if parts.scheme not in ("http", "https"):
        raise ValidationFailed("A webhook's URL starts with http:// or https://.", field="url")
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed(
            "A webhook's URL carries no user name or password; sign with its secret instead.",
            field="url",
        )
    host = parts.hostname or ""
    if not host:
        raise ValidationFailed("A webhook's URL names a host.", field="url")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def target_resolve(url: str, *, allowed: Sequence[IPNetwork] = ()) -> Target:
    """The checked target of ``url``: its host resolved and every address allowed.

    Raises ValidationFailed naming the refused address (or the name that did not resolve)
    before any connection is made.
    """
    scheme, host, port, path = url_parse(url)
    addresses = _resolve(host, port)
    for address in addresses:
        why = address_refusal(address, allowed=allowed)
        if why is not None:
            raise ValidationFailed(
                f"{host} resolves to {address}, {why}: webhooks are sent only to public "
                "addresses (an admin may allow a network in LABELER_WEBHOOK_ALLOWED_NETWORKS).",
                field="url",
            )
    return Target(scheme, host, port, path, tuple(str(a) for a in addresses))


class HostUnresolved(ValidationFailed):
    """A host name with no address now: refused when a webhook is registered, tried again
    when a delivery meets it (a name server's outage must not lose events)."""


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostUnresolved(f"The host {host} could not be resolved.", field="url") from exc
    # An IPv6 address may carry a zone ("fe80::1%eth0"): the address is what is checked.
    unique = dict.fromkeys(str(info[4][0]).split("%")[0] for info in found)
    if not unique:
        raise HostUnresolved(f"The host {host} could not be resolved.", field="url")
    return [ipaddress.ip_address(address) for address in unique]


def address_refusal(address: IPAddress, *, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why ``address`` may not be sent to ("a private address"), or None when it may."""
    if any(address.version == net.version and address in net for net in allowed):
        return None
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_refusal(embedded, allowed=allowed)
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((why for refused, why in checks if refused), None)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo's client, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None

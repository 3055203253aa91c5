"""Which URLs a webhook may point at. A webhook makes facerec send requests from inside the
network it runs in, so an admin key must not be enough to aim it at the database, the router or
a cloud's metadata address: only http(s), and only public hosts unless the admin allowed a
private one by name (``facerec webhook allow-host``, the ``events`` setting ``allowed_hosts``).
Names are resolved when the subscription is made; every address they give must be public."""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from facerec.errors import StoreError

PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp")


class BadUrlError(StoreError):
    """A subscription URL facerec will not use (422 over HTTP, exit 1 on the CLI)."""


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int
    path: str  # with the query, as sent in the request line


def _private_address(text: str) -> bool:
    address = ipaddress.ip_address(text.split("%")[0])
    return not address.is_global or address.is_multicast


def _private_name(host: str) -> bool:
    return host == "localhost" or "." not in host or host.endswith(PRIVATE_SUFFIXES)


def parse(url: str, schemes: tuple[str, ...] = ("http", "https")) -> Endpoint:
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BadUrlError(f"not a URL: {url!r} ({exc})") from None
    if parts.scheme.lower() not in schemes:
        raise BadUrlError(f"the URL must start with {' or '.join(s + '://' for s in schemes)}; got {url!r}")
    if not parts.hostname:
        raise BadUrlError(f"the URL names no host: {url!r}")
    scheme = parts.scheme.lower()
    default = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883}[scheme]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Endpoint(scheme, parts.hostname.lower(), port or default, path)


def check_webhook_url(url: str, allowed_hosts: Sequence[str] = ()) -> str:
    """``url`` (stripped) if a webhook may be sent there, else BadUrlError saying why."""
    endpoint = parse(url)
    host = endpoint.host
    if host in {h.lower() for h in allowed_hosts}:
        return url.strip()
    hint = f"if {host} is meant, an admin can allow it: facerec webhook allow-host {host}"
    try:
        literal = _private_address(host)
    except ValueError:
        literal = None
    if literal is True:
        raise BadUrlError(f"{host} is a private, loopback or reserved address; {hint}")
    if literal is None:
        if _private_name(host):
            raise BadUrlError(f"{host} is a private name (not a public DNS name); {hint}")
        try:
            found = {str(info[4][0]) for info in socket.getaddrinfo(host, endpoint.port, proto=socket.IPPROTO_TCP)}
        except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode
            raise BadUrlError(f"cannot resolve {host}: {exc}") from None
        private = sorted(a for a in found if _private_address(a))
        if private:
            raise BadUrlError(f"{host} resolves to the private address {private[0]}; {hint}")
    return url.strip()


def check_broker_url(url: str) -> str:
    """An MQTT broker's URL: mqtt://host[:1883] or mqtts://host[:8883] (a broker on the local
    network is the usual case, so private hosts are fine here)."""
    parse(url, ("mqtt", "mqtts"))
    return url.strip()

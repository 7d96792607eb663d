"""URL normalisation, crawl scope and the private-address guard of the crawler."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_url(url: str, base: str | None = None) -> str | None:
    """A canonical form of ``url`` (resolved against ``base``) so a page is fetched once.

    Lower-case scheme and host, no default port, no fragment, ``/`` for an empty path,
    query parameters sorted. None for anything that is not http(s).
    """
    url = url.strip()
    if not url:
        return None
    try:
        parts = urlsplit(urljoin(base, url) if base else url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path) or "/"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)), doseq=True)
    return urlunsplit((scheme, netloc, path, query, ""))


def host_of(url: str) -> str:
    """The lower-case host name of ``url`` (no port)."""
    return (urlsplit(url).hostname or "").lower()


def site_domain(host: str) -> str:
    """The domain a start URL's host stands for: ``www.`` removed."""
    return host[4:] if host.startswith("www.") else host


def in_domains(host: str, domains: set[str]) -> bool:
    """True when ``host`` is one of ``domains`` or a sub-domain of one."""
    return any(host == d or host.endswith("." + d) for d in domains)


def is_private_ip(address: str) -> bool:
    """True for private, loopback, link-local, reserved, multicast and unspecified addresses."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_multicast or ip.is_unspecified)

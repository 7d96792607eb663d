"""An httpx transport that connects to addresses resolved (and checked) beforehand.

The crawler's private-address guard resolves a host and checks every address it gets.
If the HTTP client then resolved the name again, a DNS answer that changed in between
(DNS rebinding) would reach an address nobody checked. So the crawler pins the address it
checked, and this transport's network backend connects to that address: the URL, the Host
header and the TLS server name (SNI, certificate check) stay those of the host name, only
the TCP connection goes to the pinned IP. httpx has no public hook for this; httpcore's
connection pool takes a network backend, which is the seam used here.
"""

from __future__ import annotations

from typing import Any, Iterable

import httpcore
import httpx


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, with TCP connections to a host sent to its pinned address."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()
        self._pins: dict[str, str] = {}

    def pin(self, host: str, address: str) -> None:
        """Connect to ``address`` whenever ``host`` is asked for."""
        self._pins[_key(host)] = address

    def address_of(self, host: str) -> str | None:
        """The pinned address of ``host``, or None."""
        return self._pins.get(_key(host))

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        address = self.address_of(host)
        if address is None:
            # Every request of the crawler is checked (and so pinned) first: an unpinned host is a bug.
            raise httpcore.ConnectError(f"{host}: no checked address to connect to")
        return await self._backend.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not crawled")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def _key(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def pinned_transport(backend: PinnedBackend, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go through ``backend``."""
    transport = httpx.AsyncHTTPTransport(limits=limits)
    # httpx builds its httpcore pool without a backend argument; the pool reads this attribute
    # each time it opens a connection (checked by tests/collect/test_crawl.py).
    transport._pool._network_backend = backend  # noqa: SLF001
    return transport

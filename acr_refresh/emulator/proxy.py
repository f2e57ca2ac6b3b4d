"""A small HTTP CONNECT proxy that sends every tunnel to the emulator's internal TLS server.

Tests set ``HTTPS_PROXY`` to it, so the code under test resolves nothing and dials nothing itself: it asks
the proxy for ``CONNECT login.microsoftonline.com:443`` and then speaks TLS (with SNI for that name)
through the tunnel, exactly as behind a corporate proxy. Every requested ``host:port`` is recorded.
Tunnels to 127.0.0.1/localhost go to that local port instead (a proxy on this machine would do that).
Requests other than CONNECT get 405: the emulated services are HTTPS-only.
"""

from __future__ import annotations

import logging
import select
import socket
import socketserver
import threading
from collections.abc import Callable

from .web import serve_in_background, stop_server

log = logging.getLogger("acr_refresh.emulator")

_MAX_HEADER = 64 * 1024
_IDLE_TIMEOUT = 60.0
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class _ProxyHandler(socketserver.BaseRequestHandler):
    server: ConnectProxy

    def handle(self) -> None:
        client: socket.socket = self.request
        client.settimeout(10)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay on relayed records
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = client.recv(4096)
                if not chunk:
                    return
                data += chunk
                if len(data) > _MAX_HEADER:
                    client.sendall(
                        b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n"
                    )
                    return
        except OSError:
            return
        head, _, rest = data.partition(b"\r\n\r\n")
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or parts[0].upper() != "CONNECT":
            body = b"this proxy only tunnels HTTPS (CONNECT)\n"
            client.sendall(
                b"HTTP/1.1 405 Method Not Allowed\r\nAllow: CONNECT\r\nConnection: close\r\n"
                b"Content-Type: text/plain\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            return
        target = parts[1]
        host, sep, port_text = target.rpartition(":")
        if not sep or not port_text.isdigit():
            host, port_text = target, "443"
        host = host.strip("[]").lower()
        self.server.on_connect(f"{host}:{port_text}")
        if host in self.server.refused:
            # What a proxy answers when the upstream refuses the connection.
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if host in ("127.0.0.1", "localhost", "::1"):
            upstream_addr = ("127.0.0.1", int(port_text))
        else:
            upstream_addr = ("127.0.0.1", self.server.upstream_port)
        try:
            upstream = socket.create_connection(upstream_addr, timeout=10)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(upstream)
        try:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            _pump(client, upstream)
        except OSError:
            pass
        finally:
            self.server.untrack(upstream)
            upstream.close()


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes or the tunnel idles out."""
    a.settimeout(None)
    b.settimeout(None)
    peers = {a: b, b: a}
    while True:
        readable, _, _ = select.select(list(peers), [], [], _IDLE_TIMEOUT)
        if not readable:
            return
        for src in readable:
            data = src.recv(65536)
            if not data:
                return
            if _QUICKACK is not None:
                # Clients behind a proxy often run without TCP_NODELAY (urllib3 does): ACK at once, or Nagle
                # holds the request body back for our delayed ACK (~40 ms per request).
                src.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            peers[src].sendall(data)


class ConnectProxy(socketserver.ThreadingTCPServer):
    """The proxy server; ``upstream_port`` is the internal TLS server's port on 127.0.0.1."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream_port: int, on_connect: Callable[[str], None]) -> None:
        self.upstream_port = upstream_port
        self.on_connect = on_connect
        self.refused: set[str] = set()
        """Host names whose tunnels fail as if the service refused connections."""
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def track(self, sock: socket.socket) -> None:
        with self._conns_lock:
            self._conns.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._conns_lock:
            self._conns.discard(sock)

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        self.track(request)
        try:
            super().finish_request(request, client_address)
        finally:
            self.untrack(request)

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("proxy connection error from %s", client_address, exc_info=True)

    def start(self) -> None:
        self._thread = serve_in_background(self, "emulator-proxy")

    def close(self) -> None:
        """Stop accepting, cut every tunnel and close the listening socket."""
        stop_server(self, self._conns, self._conns_lock, self._thread)

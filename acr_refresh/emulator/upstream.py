"""Forwarding to a real Kubernetes API server, so a real server can stand behind the emulator's kube port.

With ``Emulator(kube_upstream=KubeUpstream(url, ca_file))`` the emulator's Kubernetes listener stops
answering from its own store: every request is named and counted as the emulated API server would name it
(``kube.secret.apply``, ...), pending faults (:meth:`Emulator.fail`: a status, a delay) apply exactly as they
do to the emulated server, and everything else is sent unchanged (method, path, query, body, the client's
own ``Authorization`` and content type) to the real server over TLS, whose answer comes back as it is.
This is how the test suite injects faults into a real API server it cannot otherwise break.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from .web import Request, Response

_FORWARDED = ("authorization", "content-type", "accept", "user-agent")


@dataclass
class KubeUpstream:
    """A real API server at ``url`` (``https://host:port``) whose serving certificate ``ca_file`` verifies."""

    url: str
    ca_file: str
    timeout: float = 60.0
    closed: bool = False
    """Set when the emulator stops: a request still held by an injected delay is then not forwarded, so it
    cannot change the real server after its test has ended."""
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def _connection(self) -> Any:
        import http.client

        conn = getattr(self._local, "conn", None)
        if conn is None:
            parts = urlsplit(self.url)
            context = ssl.create_default_context(cafile=self.ca_file)
            conn = http.client.HTTPSConnection(parts.hostname or "127.0.0.1", parts.port or 443,
                                               context=context, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def forward(self, req: Request) -> Response:
        """Send ``req`` to the real server; its status, content type and body come back unchanged."""
        if self.closed:
            return Response.text(503, "emulator: stopped; not forwarded to the upstream API server\n")
        query = urlencode([(k, v) for k, values in req.query_lists.items() for v in values])
        target = req.path + (f"?{query}" if query else "")
        headers = {k: v for k, v in req.headers.items() if k in _FORWARDED}
        for attempt in (1, 2):  # a keep-alive connection the server closed is reopened once
            conn = self._connection()
            try:
                conn.request(req.method, target, body=req.body or None, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                break
            except (ConnectionError, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    return Response.text(502, "emulator: the upstream API server is unreachable\n")
        out = {"Content-Type": resp.getheader("Content-Type") or "application/json"}
        if resp.getheader("Retry-After"):
            out["Retry-After"] = resp.getheader("Retry-After")
        return Response(resp.status, body, out)

"""HTTP plumbing shared by the emulated services: request/response values, recording, fault injection
and a threaded (optionally TLS) server that can close every connection it holds on shutdown.

Flow of one request: the server parses it into a :class:`Request`, asks the dispatcher for a
:class:`Route` (endpoint name + handler), records it in the :class:`Recorder` (counts and the request
log), applies any pending fault for that endpoint, and otherwise calls the handler.
"""

from __future__ import annotations

import collections
import json
import logging
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("acr_refresh.emulator")

# Form fields and headers that carry credentials: kept in memory for assertions, hidden from repr()
# so that a failing test's output never shows a secret.
SECRET_FIELDS = frozenset(
    {"client_secret", "client_assertion", "access_token", "refresh_token", "password", "assertion"}
)
SECRET_HEADERS = frozenset({"authorization", "x-identity-header", "cookie"})
# Transport headers that say nothing about the client's behaviour; everything else is recorded.
_UNRECORDED_HEADERS = frozenset(
    {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}
)


@dataclass
class Request:
    """One parsed HTTP request as a service handler sees it.

    ``host`` is the Host header without port, lower-cased; ``query``/``form`` keep the first value of each
    field and ``query_lists``/``form_lists`` all of them; ``headers`` has lower-case names.
    """

    method: str
    host: str
    path: str
    query: dict[str, str]
    query_lists: dict[str, list[str]]
    form: dict[str, str]
    form_lists: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body or b"null")


@dataclass
class Response:
    """What a handler answers: status, body bytes and extra headers (Content-Type included)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        """A JSON response."""
        hdrs = {"Content-Type": "application/json; charset=utf-8"}
        hdrs.update(headers or {})
        return cls(status, json.dumps(payload).encode(), hdrs)

    @classmethod
    def text(cls, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
        """A plain-text response."""
        hdrs = {"Content-Type": "text/plain; charset=utf-8"}
        hdrs.update(headers or {})
        return cls(status, message.encode(), hdrs)


@dataclass(frozen=True)
class RecordedRequest:
    """A request as kept in ``Emulator.requests``: which endpoint, and what the client sent.

    Values are the real ones (tests compare them), but ``repr()`` masks credential fields and headers.
    """

    endpoint: str
    method: str
    host: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    time: float

    def __repr__(self) -> str:
        form = {k: ("<redacted>" if k in SECRET_FIELDS else v) for k, v in self.form.items()}
        headers = {k: ("<redacted>" if k in SECRET_HEADERS else v) for k, v in self.headers.items()}
        return (
            f"RecordedRequest(endpoint={self.endpoint!r}, method={self.method!r}, host={self.host!r}, "
            f"path={self.path!r}, query={self.query!r}, form={form!r}, headers={headers!r})"
        )


@dataclass
class Fault:
    """One pending fault: ``remaining`` requests (``None`` = forever) get ``status`` after ``delay``."""

    status: int | None
    remaining: int | None
    delay: float
    retry_after: float | str | None
    body: bytes | str | dict[str, Any] | list[Any] | None
    headers: dict[str, str]


class Recorder:
    """Thread-safe request counts, request log and per-endpoint fault queues."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()
        self.requests: list[RecordedRequest] = []
        self._faults: dict[str, collections.deque[Fault]] = collections.defaultdict(collections.deque)

    def record(self, endpoint: str, req: Request) -> None:
        """Count and log ``req`` under ``endpoint``."""
        headers = {k: v for k, v in req.headers.items() if k not in _UNRECORDED_HEADERS}
        rec = RecordedRequest(
            endpoint, req.method, req.host, req.path, dict(req.query), dict(req.form), headers, self._clock()
        )
        with self._lock:
            self.counts[endpoint] += 1
            self.requests.append(rec)

    def add_fault(self, endpoint: str, fault: Fault) -> None:
        """Queue ``fault`` behind any fault already pending for ``endpoint``."""
        with self._lock:
            self._faults[endpoint].append(fault)

    def clear_faults(self, endpoint: str | None = None) -> None:
        """Drop pending faults for ``endpoint`` (all endpoints when ``None``)."""
        with self._lock:
            if endpoint is None:
                self._faults.clear()
            else:
                self._faults.pop(endpoint, None)

    def take_fault(self, endpoint: str) -> Fault | None:
        """The fault that applies to the current request to ``endpoint``, consuming one use of it."""
        with self._lock:
            queue = self._faults.get(endpoint)
            if not queue:
                return None
            fault = queue[0]
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.popleft()
            return fault

    def snapshot_counts(self) -> collections.Counter[str]:
        with self._lock:
            return collections.Counter(self.counts)

    def snapshot_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self.requests)

    def reset(self) -> None:
        """Forget counts and recorded requests (pending faults stay)."""
        with self._lock:
            self.counts.clear()
            self.requests.clear()


@dataclass
class Route:
    """Where a request goes: the endpoint name it is counted under, its handler, and how a fault
    response of a given status looks on this service (``error_body(status) -> Response``)."""

    endpoint: str
    handler: Callable[[Request], Response]
    error_body: Callable[[int], Response]


Dispatcher = Callable[[Request], Route]


def apply_route(route: Route, req: Request, recorder: Recorder) -> Response:
    """Record ``req``, apply a pending fault for ``route.endpoint`` or run the handler."""
    recorder.record(route.endpoint, req)
    fault = recorder.take_fault(route.endpoint)
    if fault is not None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status is not None:
            return _fault_response(route, fault)
    return route.handler(req)


def _fault_response(route: Route, fault: Fault) -> Response:
    assert fault.status is not None
    if fault.body is None:
        resp = route.error_body(fault.status)
    elif isinstance(fault.body, (dict, list)):
        resp = Response.json(fault.status, fault.body)
    elif isinstance(fault.body, str):
        resp = Response.text(fault.status, fault.body)
    else:
        resp = Response(fault.status, fault.body, {"Content-Type": "application/octet-stream"})
    resp.status = fault.status
    if fault.retry_after is not None:
        ra = fault.retry_after
        resp.headers["Retry-After"] = str(int(ra)) if isinstance(ra, (int, float)) else ra
    resp.headers.update(fault.headers)
    return resp


class _Handler(BaseHTTPRequestHandler):
    """Parses requests and hands them to ``server.app``; HTTP/1.1 with keep-alive like real services."""

    protocol_version = "HTTP/1.1"
    server_version = "acr-refresh-emulator"
    sys_version = ""
    timeout = 30  # idle keep-alive connections are dropped after this, as load balancers do
    server: _Server

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400, "bad request body")
            return
        url = urlsplit(self.path)
        query_lists = parse_qs(url.query, keep_blank_values=True)
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        form_lists: dict[str, list[str]] = {}
        if ctype == "application/x-www-form-urlencoded":
            form_lists = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        host = (self.headers.get("Host") or "").strip().lower()
        if host.startswith("["):
            host = host.split("]")[0] + "]"
        else:
            host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        req = Request(
            method=self.command,
            host=host,
            path=url.path,
            query={k: v[0] for k, v in query_lists.items()},
            query_lists=query_lists,
            form={k: v[0] for k, v in form_lists.items()},
            form_lists=form_lists,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            resp = self.server.app(req)
        except Exception:  # a bug in the emulator must show up as a 500, not a hung client
            log.exception("emulator handler failed for %s %s", req.method, req.path)
            resp = Response.text(500, "emulator internal error")
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        # Only method and path, at debug level: query strings and bodies may carry credentials.
        log.debug("%s %s -> %s", self.command, urlsplit(getattr(self, "path", "")).path, args[1:2])


class _Server(ThreadingHTTPServer):
    """A threaded HTTP(S) server on 127.0.0.1 that tracks its connections so ``close()`` can end them.

    The TLS handshake runs in the per-connection thread (not in the accept loop), so a slow or broken
    client cannot stall other connections.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: Callable[[Request], Response], ssl_context: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def finish_request(self, request: Any, client_address: Any) -> None:
        sock: socket.socket = request
        # Without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to every keep-alive round trip.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._track(sock)
        try:
            if self.ssl_context is not None:
                sock.settimeout(10)
                try:
                    tls = self.ssl_context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    # e.g. a client that does not trust the CA aborts the handshake: expected in tests
                    log.debug("TLS handshake failed: %s", exc)
                    return
                self._track(tls)
                try:
                    _Handler(tls, client_address, self)
                finally:
                    self._untrack(tls)
                    tls.close()
            else:
                _Handler(sock, client_address, self)
        finally:
            self._untrack(sock)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Connections torn down by stop() or by clients raise here; not worth a traceback on stderr.
        log.debug("connection error from %s", client_address, exc_info=True)

    def _track(self, sock: socket.socket) -> None:
        with self._conns_lock:
            self._conns.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._conns_lock:
            self._conns.discard(sock)

    def start(self, name: str) -> None:
        self._thread = serve_in_background(self, name)

    def close(self) -> None:
        """Stop accepting, end every open connection and close the listening socket."""
        stop_server(self, self._conns, self._conns_lock, self._thread)


def serve_in_background(server: socketserver.BaseServer, name: str) -> threading.Thread:
    """Run ``server.serve_forever`` in a daemon thread (polling often, so ``shutdown`` is quick)."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
    thread.start()
    return thread


def stop_server(server: socketserver.BaseServer, socks: set[socket.socket], lock: threading.Lock,
                thread: threading.Thread | None) -> None:
    """Stop accepting, cut every open connection, close the listening socket and join the thread."""
    server.shutdown()
    server.server_close()
    close_sockets(socks, lock)
    if thread is not None:
        thread.join(timeout=5)


def close_sockets(socks: set[socket.socket], lock: threading.Lock) -> None:
    """Shut down every socket in ``socks`` at the OS level so threads blocked on them return."""
    with lock:
        current = list(socks)
    for s in current:
        try:
            # socket.socket.shutdown (not SSLSocket.shutdown): no TLS close_notify from this thread,
            # just wake the reader blocked in recv.
            socket.socket.shutdown(s, socket.SHUT_RDWR)
        except OSError:
            pass


def make_server(app: Callable[[Request], Response], ssl_context: ssl.SSLContext | None = None) -> _Server:
    """A not-yet-started server on an ephemeral 127.0.0.1 port; call ``start(name)`` then ``close()``."""
    return _Server(app, ssl_context)

"""A real Kubernetes API server (kube-apiserver v1.20.2 + etcd 3.4, built from Debian packages) for tests.

``scripts/build-kube-apiserver.sh`` builds it once into ``$XDG_CACHE_HOME/acr-refresh/``; :class:`ApiServer`
starts etcd and the API server on ephemeral loopback ports with a generated serving certificate (a trustme
CA), a token auth file (an admin in ``system:masters``), RBAC, and service-account signing keys (so
TokenRequest works and its tokens verify against the server's own OIDC discovery document and JWKS), and
stops both by PID. There is no controller-manager: no default ServiceAccounts, no garbage collection, and
deleted namespaces stay Terminating unless finalized (:meth:`ApiServer.reset` does that).

By hand::

    python -m tests.kubeserver          # builds if needed, starts, prints a kubeconfig path, waits for Ctrl-C
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import trustme
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = ROOT / "scripts" / "build-kube-apiserver.sh"
ADMIN_TOKEN = "admin-token-for-tests-only-0123456789abcdef"
JOB_USER = "acr-refresh-job"
JOB_TOKEN = "job-token-for-tests-only-fedcba9876543210"
# Read at import, before any test fixture points HOME at a temporary directory: the build is cached per user.
CACHE_HOME = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")


class BuildError(RuntimeError):
    """The real API server could not be built or started here."""


def build() -> Path:
    """Build (or reuse) the server; return the cache directory holding ``bin/kube-apiserver`` and ``bin/etcd``."""
    try:
        done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=3000,
                              env={**os.environ, "XDG_CACHE_HOME": CACHE_HOME})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"could not run {BUILD_SCRIPT}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-25:])
        raise BuildError(f"{BUILD_SCRIPT.name} failed (exit {done.returncode}):\n{tail}")
    return Path(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ApiServer:
    """etcd + kube-apiserver on loopback. Use as a context manager, or :meth:`start` / :meth:`stop`."""

    def __init__(self, cache: Path | None = None) -> None:
        self.cache = cache or build()
        self.workdir = Path(tempfile.mkdtemp(prefix="acr-refresh-kube-"))
        self.ca = trustme.CA()
        self.port = 0
        self._procs: list[subprocess.Popen[bytes]] = []

    # -------------------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def ca_file(self) -> str:
        return str(self.workdir / "ca.pem")

    def start(self) -> ApiServer:
        w = self.workdir
        self.ca.cert_pem.write_to_path(self.ca_file)
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        cert.private_key_pem.write_to_path(str(w / "server.key"))
        cert.cert_chain_pems[0].write_to_path(str(w / "server.crt"))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (w / "sa.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                     serialization.PrivateFormat.TraditionalOpenSSL,
                                                     serialization.NoEncryption()))
        (w / "sa.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
        (w / "tokens.csv").write_text(f'{ADMIN_TOKEN},admin,admin-uid,"system:masters"\n'
                                      f'{JOB_TOKEN},{JOB_USER},job-uid\n')
        etcd_port, peer_port, self.port = _free_port(), _free_port(), _free_port()
        log = open(w / "etcd.log", "wb")
        self._procs.append(subprocess.Popen([
            str(self.cache / "bin" / "etcd"), "--name", "test", "--data-dir", str(w / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"test=http://127.0.0.1:{peer_port}",
            "--log-level", "warn", "--snapshot-count", "100000",
        ], stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        log = open(w / "apiserver.log", "wb")
        self._procs.append(subprocess.Popen([
            str(self.cache / "bin" / "kube-apiserver"),
            "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(self.port), "--insecure-port", "0",
            "--tls-cert-file", str(w / "server.crt"), "--tls-private-key-file", str(w / "server.key"),
            "--token-auth-file", str(w / "tokens.csv"),
            "--authorization-mode", "RBAC",
            "--service-account-issuer", self.issuer,
            "--service-account-jwks-uri", f"{self.url}/openid/v1/jwks",
            "--service-account-key-file", str(w / "sa.pub"),
            "--service-account-signing-key-file", str(w / "sa.key"),
            "--api-audiences", f"{self.issuer},api://AzureADTokenExchange",
            "--service-cluster-ip-range", "10.233.0.0/24",
            "--cert-dir", str(w / "certs"),
            "--disable-admission-plugins", "ServiceAccount",
            "--enable-priority-and-fairness=false",
            "--v", "0",
        ], stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        try:
            self._wait_ready(timeout=90)
            self._bootstrap()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    raise BuildError(f"{proc.args[0]} exited ({proc.returncode}); see {self.workdir}:\n"
                                     + self._log_tail())
            try:
                status, body = self.request("GET", "/readyz")
                if status == 200:
                    return
                last = body[:200]
            except OSError as exc:
                last = str(exc)
            time.sleep(0.2)
        raise BuildError(f"kube-apiserver not ready after {timeout:.0f} s ({last}):\n{self._log_tail()}")

    def _log_tail(self) -> str:
        out = []
        for name in ("etcd.log", "apiserver.log"):
            path = self.workdir / name
            if path.exists():
                out += [f"--- {name}", *path.read_text(errors="replace").splitlines()[-15:]]
        return "\n".join(out)

    def _bootstrap(self) -> None:
        # Issuer discovery for unauthenticated callers, as clusters set it up for federated credentials
        # (v1.20 creates the role but binds it to authenticated users only).
        self.apply_object({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "acr-refresh-test:oidc-discovery"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "system:service-account-issuer-discovery"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                          "name": "system:unauthenticated"}],
        })
        # The default namespace appears shortly after start (the API server's bootstrap controller).
        deadline = time.monotonic() + 30
        while self.request("GET", "/api/v1/namespaces/default")[0] != 200:
            if time.monotonic() > deadline:
                raise BuildError("the default namespace never appeared")
            time.sleep(0.1)

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
        self._procs.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------------------------- admin access

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = ADMIN_TOKEN,
                content_type: str = "application/json") -> tuple[int, str]:
        """One raw HTTPS request (the test harness's own, not the job's); returns (status, body text)."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._context(), timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        status, text = self.request(method, path, body, **kwargs)
        if status >= 300:
            raise AssertionError(f"{method} {path}: {status} {text[:500]}")
        return json.loads(text) if text else {}

    def apply_object(self, obj: dict[str, Any], *, manager: str = "test-setup") -> dict[str, Any]:
        """Server-side apply ``obj`` as the admin (test set-up)."""
        return self.json("PATCH", _path_of(obj) + f"?fieldManager={manager}&force=true", obj,
                         content_type="application/apply-patch+yaml")

    def write_kubeconfig(self, path: str | os.PathLike[str], *, token: str = ADMIN_TOKEN) -> str:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "real",
            "clusters": [{"name": "real", "cluster": {"server": self.url, "certificate-authority": self.ca_file}}],
            "users": [{"name": "real", "user": {"token": token}}],
            "contexts": [{"name": "real", "context": {"cluster": "real", "user": "real"}}],
        }
        Path(path).write_text(yaml.safe_dump(config))
        return str(path)

    def reset(self) -> None:
        """Remove what tests made: every Secret and ServiceAccount, every namespace but the baseline ones
        (finalized, since no controller-manager runs), labels on ``default``, RBAC objects tests added."""
        namespaces = self.json("GET", "/api/v1/namespaces")["items"]
        for ns in namespaces:
            name = ns["metadata"]["name"]
            if name in ("kube-system", "kube-public", "kube-node-lease"):
                continue
            # A Secret with a finalizer (template.metadata.finalizers) would stay Terminating for ever.
            for secret in self.json("GET", f"/api/v1/namespaces/{name}/secrets")["items"]:
                if secret["metadata"].get("finalizers"):
                    self.request("PATCH", f"/api/v1/namespaces/{name}/secrets/{secret['metadata']['name']}",
                                 {"metadata": {"finalizers": None}},
                                 content_type="application/merge-patch+json")
            self.request("DELETE", f"/api/v1/namespaces/{name}/secrets")
            self.request("DELETE", f"/api/v1/namespaces/{name}/configmaps")
            self.request("DELETE", f"/api/v1/namespaces/{name}/serviceaccounts")
            self.request("DELETE", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{name}/roles")
            self.request("DELETE", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{name}/rolebindings")
            if name == "default":
                if ns["metadata"].get("labels", {}) != {"kubernetes.io/metadata.name": "default"}:
                    self.json("PUT", "/api/v1/namespaces/default", {
                        "apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": "default", "resourceVersion": ns["metadata"]["resourceVersion"]}})
                continue
            self.request("DELETE", f"/api/v1/namespaces/{name}")
            self.request("PUT", f"/api/v1/namespaces/{name}/finalize", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {"finalizers": []}})
        selector = "?labelSelector=acr-refresh-test%3Dtrue"
        self.request("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles" + selector)
        self.request("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" + selector)


def _path_of(obj: dict[str, Any]) -> str:
    api, kind = obj["apiVersion"], obj["kind"]
    plural = {"ClusterRoleBinding": "clusterrolebindings", "ClusterRole": "clusterroles", "Role": "roles",
              "RoleBinding": "rolebindings", "Namespace": "namespaces", "Secret": "secrets",
              "ServiceAccount": "serviceaccounts", "ConfigMap": "configmaps"}[kind]
    prefix = "/api/v1" if api == "v1" else f"/apis/{api}"
    ns = obj["metadata"].get("namespace")
    name = obj["metadata"]["name"]
    return f"{prefix}/namespaces/{ns}/{plural}/{name}" if ns else f"{prefix}/{plural}/{name}"


def main() -> int:
    with ApiServer() as server:
        path = server.write_kubeconfig(server.workdir / "kubeconfig")
        print(f"kube-apiserver {server.url} ready; KUBECONFIG={path}  (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write Secrets exactly as External Secrets Operator v2.9.0 writes them, on either Kubernetes tier.

ESO cannot be built here, so its writes are derived from its controller (tag v2.9.0):

- pkg/controllers/externalsecret/externalsecret_controller.go: ``createSecret`` (a create) and
  ``updateSecret`` (an update with the resourceVersion read), both with ``client.FieldOwner(fqdnFor(es.Name))``;
  the ``mutationFunc`` sets the label ``reconcile.external-secrets.io/managed=true`` and the annotation
  ``reconcile.external-secrets.io/data-hash`` = ``ObjectHash(secret.Data)``; ``applyOwnership`` sets the
  controller reference (``SetControllerReference``: controller and blockOwnerDeletion true) and the label
  ``reconcile.external-secrets.io/created-by`` = ``ObjectHash("<ns>/<name>")`` for creationPolicy Owner, and
  removes both for any other policy.
- pkg/controllers/externalsecret/util.go ``fqdnFor``: ``externalsecrets.external-secrets.io/<name>``
  (``.../sha3/<hex>`` past 63 characters).
- runtime/esutils/utils.go ``ObjectHash``: SHA3-224 of ``fmt.Sprintf("%+v", object)``.
- pkg/controllers/externalsecret/externalsecret_controller_template.go: with a template, labels and
  annotations come from ``template.metadata`` (none in the README's example).

Requests go to the API server as a client would: the admin of the real server, or the emulator's kube port.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import quote

from acr_refresh.emulator import Emulator

MANAGED_LABEL = "reconcile.external-secrets.io/managed"
OWNER_LABEL = "reconcile.external-secrets.io/created-by"
DATA_HASH = "reconcile.external-secrets.io/data-hash"


def fqdn_for(name: str) -> str:
    fqdn = f"externalsecrets.external-secrets.io/{name}"
    return f"externalsecrets.external-secrets.io/sha3/{hashlib.sha3_224(name.encode()).hexdigest()}" \
        if len(fqdn) > 63 else fqdn


def object_hash_string(text: str) -> str:
    return hashlib.sha3_224(text.encode()).hexdigest()


def data_hash(data: dict[str, bytes]) -> str:
    """``ObjectHash`` of a ``map[string][]byte``: Go prints it sorted by key, each value as ``[b1 b2 ...]``."""
    text = "map[" + " ".join(f"{k}:[{' '.join(str(b) for b in v)}]" for k, v in sorted(data.items())) + "]"
    return object_hash_string(text)


def request(em: Emulator, method: str, path: str, body: Any = None,
            ctype: str = "application/json") -> dict[str, Any] | None:
    """One request to ``em``'s Kubernetes API server (the real one as its admin on the real tier)."""
    server = getattr(em, "server", None)
    if server is not None:
        status, text = server.request(method, path, body, content_type=ctype)
    else:
        req = urllib.request.Request(em.kube_url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Authorization", f"Bearer {em.kube_token}")
        req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=em.ca_bundle_path),
                                        timeout=30) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
    if status == 404 and method == "GET":
        return None
    if status >= 300:
        raise AssertionError(f"{method} {path}: {status} {text[:300]}")
    result: dict[str, Any] = json.loads(text) if text else {}
    return result


class ExternalSecretController:
    """ESO's controller for one ExternalSecret (``namespace/name``, a template with ``type``)."""

    def __init__(self, em: Emulator, namespace: str, name: str, *, secret_type: str,
                 policy: str = "Owner") -> None:
        self.em, self.namespace, self.name, self.type, self.policy = em, namespace, name, secret_type, policy
        self.uid = str(uuid.uuid4())  # the ExternalSecret's (not stored: neither tier has ESO's CRDs)
        self.path = f"/api/v1/namespaces/{namespace}/secrets"

    @property
    def manager(self) -> str:
        return fqdn_for(self.name)

    def _mutate(self, secret: dict[str, Any], data: dict[str, bytes]) -> None:
        meta = secret.setdefault("metadata", {})
        labels, notes = meta.setdefault("labels", {}), meta.setdefault("annotations", {})
        secret["data"] = {k: base64.b64encode(v).decode() for k, v in data.items()}
        secret["type"] = self.type
        owners = [o for o in meta.get("ownerReferences") or [] if o.get("uid") != self.uid]
        if self.policy == "Owner":
            owners.append({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": self.name,
                           "uid": self.uid, "controller": True, "blockOwnerDeletion": True})
            labels[OWNER_LABEL] = object_hash_string(f"{self.namespace}/{self.name}")
        else:
            labels.pop(OWNER_LABEL, None)
        meta["ownerReferences"] = owners
        labels[MANAGED_LABEL] = "true"
        notes[DATA_HASH] = data_hash(data)

    def reconcile(self, data: dict[str, bytes]) -> dict[str, Any]:
        """One sync: create the Secret, or update it with the resourceVersion read."""
        self.em.add_namespace(self.namespace)
        query = f"?fieldManager={quote(self.manager, safe='')}"
        existing = request(self.em, "GET", f"{self.path}/{self.name}")
        if existing is None:
            secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret",
                                      "metadata": {"name": self.name, "namespace": self.namespace}}
            self._mutate(secret, data)
            created = request(self.em, "POST", self.path + query, secret)
            assert created is not None
            return created
        self._mutate(existing, data)
        updated = request(self.em, "PUT", f"{self.path}/{self.name}{query}", existing)
        assert updated is not None
        return updated


def dockerconfigjson(registry: str, username: str, password: str) -> bytes:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {registry: {"username": username, "password": password, "auth": auth}}},
                      separators=(",", ":")).encode()

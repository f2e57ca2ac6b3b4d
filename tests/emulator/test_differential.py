"""Differential tests: the emulated Kubernetes API server against a real kube-apiserver v1.20.

Each test sends the same requests to both and compares what the job depends on: status codes, Status
reasons and messages, and the fields the job reads (data, labels, annotations, type, resourceVersion
behaviour, managedFields managers, operations and field sets). Where the two differ on purpose, the
difference is listed in docs/testing.md and the test says so.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from acr_refresh.emulator import Emulator
from acr_refresh.emulator.fieldsets import from_fields_v1
from acr_refresh.emulator.jwt import unverified_claims
from tests.kubeserver import ApiServer

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"


class Side:
    """One API server, spoken to with plain HTTPS as a client would."""

    def __init__(self, name: str, url: str, token: str, ca_file: str,
                 setup: Callable[..., None]) -> None:
        self.name, self.url, self.token = name, url, token
        self.context = ssl.create_default_context(cafile=ca_file)
        self.setup_namespace = setup

    def __call__(self, method: str, path: str, body: Any = None, ctype: str = "application/json",
                 token: str | None = None) -> tuple[int, dict[str, Any]]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token or self.token}")
        req.add_header("User-Agent", "differential/1.0")
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def sides(api_server: ApiServer) -> Iterator[list[Side]]:
    with Emulator() as em:
        emulated = Side("emulator", em.kube_url, em.kube_token, em.ca_bundle_path, em.add_namespace)

        def real_ns(name: str, labels: dict[str, str] | None = None) -> None:
            api_server.json("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                           "metadata": {"name": name, "labels": labels or {}}})

        from tests.kubeserver import ADMIN_TOKEN
        real = Side("real", api_server.url, ADMIN_TOKEN, api_server.ca_file, real_ns)
        try:
            yield [emulated, real]
        finally:
            api_server.reset()


def both(sides: list[Side], fn: Callable[[Side], Any]) -> Any:
    """Run ``fn`` on both sides; assert the results are equal; return one."""
    emulated, real = (fn(s) for s in sides)
    assert emulated == real, f"emulator: {emulated!r}\nreal:     {real!r}"
    return real


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(name: str, **fields: Any) -> dict[str, Any]:
    meta = {"name": name, **fields.pop("metadata", {})}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, **fields}


def ownership(obj: dict[str, Any]) -> list[tuple[str, str, list[tuple[str, ...]]]]:
    """(manager, operation, sorted field paths) for each managedFields entry, in the server's order."""
    return [(e["manager"], e["operation"], sorted(from_fields_v1(e.get("fieldsV1"))))
            for e in obj["metadata"].get("managedFields") or []]


def view(status: int, obj: dict[str, Any]) -> tuple[Any, ...]:
    """What the job reads of an answer."""
    if obj.get("kind") == "Status":
        return status, obj.get("reason"), obj.get("message"), obj.get("details", {}).get("causes")
    meta = obj.get("metadata", {})
    return (status, obj.get("type"), obj.get("data"), meta.get("labels"), meta.get("annotations"),
            ownership(obj))


NS = "diff"


def secrets_path(name: str = "") -> str:
    return f"/api/v1/namespaces/{NS}/secrets" + (f"/{name}" if name else "")


def apply(side: Side, body: dict[str, Any], manager: str, force: bool | None = None) -> tuple[int, dict]:
    query = f"?fieldManager={manager}" + ("" if force is None else f"&force={str(force).lower()}")
    return side("PATCH", secrets_path(body["metadata"]["name"]) + query, body, APPLY)


def test_server_side_apply_field_ownership(sides: list[Side]) -> None:
    for s in sides:
        s.setup_namespace(NS)
    first = secret("x", metadata={"labels": {"a": "1"}, "annotations": {"n": "v"}}, type="Opaque",
                   data={"k1": b64("a"), "k2": b64("b")})
    both(sides, lambda s: view(*apply(s, first, "m1")))
    # Another manager applying other values of m1's fields: a conflict naming each field.
    second = secret("x", metadata={"labels": {"a": "2"}}, data={"k1": b64("c")})
    both(sides, lambda s: view(*apply(s, second, "m2")))
    # With force the fields move to m2.
    both(sides, lambda s: view(*apply(s, second, "m2", force=True)))
    # m1 stops applying k2 and its annotation: removed; label a stays (m2 owns it).
    third = secret("x", type="Opaque", data={})
    both(sides, lambda s: view(*apply(s, third, "m1")))
    # The same value applied by a third manager: shared, no conflict.
    shared = secret("x", data={"k1": b64("c")})
    both(sides, lambda s: view(*apply(s, shared, "m3")))


def test_update_operation_takes_the_fields_it_changes(sides: list[Side]) -> None:
    def run(s: Side) -> list[Any]:
        s.setup_namespace(NS)
        out = [view(*apply(s, secret("u", type="Opaque", data={"k": b64("1")}), "acr-refresh"))]
        _, obj = s("GET", secrets_path("u"))
        obj["data"]["extra"] = b64("hand-added")
        obj["metadata"]["labels"] = {"team": "a"}
        obj["metadata"].pop("managedFields")
        out.append(view(*s("PUT", secrets_path("u"), obj)))
        out.append(view(*s("PATCH", secrets_path("u") + "?fieldManager=kubectl-edit",
                           {"data": {"k": b64("tampered")}}, MERGE)))
        # Our apply again: a conflict with the Update manager, which force resolves.
        out.append(view(*apply(s, secret("u", type="Opaque", data={"k": b64("2")}), "acr-refresh", force=False)))
        out.append(view(*apply(s, secret("u", type="Opaque", data={"k": b64("2")}), "acr-refresh", force=True)))
        return out

    both(sides, run)


def test_a_write_that_changes_nothing_keeps_the_resource_version(sides: list[Side]) -> None:
    def run(s: Side) -> bool:
        s.setup_namespace(NS)
        body = secret("same", type="Opaque", data={"k": b64("v")})
        _, one = apply(s, body, "acr-refresh", force=True)
        _, two = apply(s, body, "acr-refresh", force=True)
        return bool(one["metadata"]["resourceVersion"] == two["metadata"]["resourceVersion"])

    assert both(sides, run) is True


def test_secret_type_is_immutable_and_dockerconfigjson_is_validated(sides: list[Side]) -> None:
    def run(s: Side) -> list[Any]:
        s.setup_namespace(NS)
        out = [view(*apply(s, secret("t", type="Opaque", data={"k": b64("v")}), "m"))[:2]]
        out.append(view(*apply(s, secret("t", type="kubernetes.io/dockerconfigjson",
                                         data={".dockerconfigjson": b64("{}")}), "m", force=True)))
        out.append(view(*s("POST", secrets_path(), secret("d1", type="kubernetes.io/dockerconfigjson",
                                                          data={"config.json": b64("{}")}))))
        status, body = s("POST", secrets_path(), secret("d2", type="kubernetes.io/dockerconfigjson",
                                                        data={".dockerconfigjson": b64("{nope")}))
        out.append((status, body.get("reason"), [c["field"] for c in body["details"]["causes"]]))
        out.append(view(*s("POST", secrets_path(), secret("t", type="Opaque")))[:3])  # AlreadyExists
        out.append(view(*s("POST", "/api/v1/namespaces/missing-ns/secrets", secret("n", type="Opaque")))[:3])
        return out

    both(sides, run)


def test_service_account_updates_are_optimistic(sides: list[Side]) -> None:
    def run(s: Side) -> list[Any]:
        s.setup_namespace(NS)
        path = f"/api/v1/namespaces/{NS}/serviceaccounts"
        status, sa = s("POST", path, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}})
        stale = json.loads(json.dumps(sa))
        sa["imagePullSecrets"] = [{"name": "one"}]
        first, updated = s("PUT", f"{path}/sa", sa)
        stale["imagePullSecrets"] = [{"name": "two"}]
        second, conflict = s("PUT", f"{path}/sa", stale)
        return [status, first, updated.get("imagePullSecrets"), second, conflict.get("reason"),
                conflict.get("message")]

    both(sides, run)


def test_label_selectors_on_namespaces_and_secrets(sides: list[Side]) -> None:
    def run(s: Side) -> list[Any]:
        for ns, labels in (("sel-a", {"pull": "true", "tier": "web"}), ("sel-b", {"pull": "false"}),
                           ("sel-c", {})):
            s.setup_namespace(ns, labels)
        out = []
        for selector in ("pull=true", "pull!=true", "pull", "!pull", "pull in (true,false)", "tier notin (web)"):
            status, body = s("GET", "/api/v1/namespaces?labelSelector=" + urllib.request.quote(selector))
            names = sorted(i["metadata"]["name"] for i in body.get("items", []) if i["metadata"]["name"]
                           .startswith("sel-"))
            out.append((selector, status, names))
        status, body = s("GET", "/api/v1/namespaces?labelSelector=" + urllib.request.quote("a b"))
        out.append(("bad", status, body.get("reason")))
        return out

    both(sides, run)


def test_token_request(sides: list[Side]) -> None:
    def run(s: Side) -> list[Any]:
        s.setup_namespace(NS)
        path = f"/api/v1/namespaces/{NS}/serviceaccounts"
        s("POST", path, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "wi"}})
        status, body = s("POST", f"{path}/wi/token", {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": ["api://AzureADTokenExchange"], "expirationSeconds": 3600}})
        claims = unverified_claims(body["status"]["token"])
        return [status, body["kind"], claims["sub"], claims["aud"], claims["exp"] - claims["iat"],
                body["spec"]["expirationSeconds"]]

    both(sides, run)


def test_metadata_only_lists_and_delete_preconditions(sides: list[Side]) -> None:
    """What prune relies on: a PartialObjectMetadataList holds no data, and a delete whose uid or
    resourceVersion precondition no longer holds is a 409."""
    accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

    def run(s: Side) -> list[Any]:
        s.setup_namespace(NS)
        _, obj = apply(s, secret("m", type="Opaque", metadata={"annotations": {"a": "1"}}, data={"k": b64("v")}),
                       "acr-refresh")
        req = urllib.request.Request(s.url + "/api/v1/secrets?limit=500",
                                     headers={"Authorization": f"Bearer {s.token}", "Accept": accept})
        with urllib.request.urlopen(req, context=s.context, timeout=30) as resp:
            listed = json.loads(resp.read())
        mine = [i for i in listed["items"] if i["metadata"]["namespace"] == NS]
        shape = [listed["kind"], listed["apiVersion"], [(i["kind"], sorted(i), i["metadata"]["annotations"])
                                                        for i in mine]]
        stale = {"apiVersion": "v1", "kind": "DeleteOptions",
                 "preconditions": {"uid": obj["metadata"]["uid"], "resourceVersion": "1"}}
        status, body = s("DELETE", secrets_path("m"), stale)
        shape.append((status, body.get("reason")))
        fresh = {"apiVersion": "v1", "kind": "DeleteOptions",
                 "preconditions": {"uid": obj["metadata"]["uid"],
                                   "resourceVersion": obj["metadata"]["resourceVersion"]}}
        shape.append(s("DELETE", secrets_path("m"), fresh)[0])
        shape.append(s("GET", secrets_path("m"))[0])
        return shape

    both(sides, run)

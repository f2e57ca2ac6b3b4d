"""Differential: the managed-fields and owner-reference edits a take-over of an ESO Secret makes, on the
emulated API server and on kube-apiserver v1.20 (see tests/emulator/test_differential.py).

The Secret is written as External Secrets Operator v2.9.0 writes it: a create, then updates, with
``client.FieldOwner("externalsecrets.external-secrets.io/<ExternalSecret name>")``
(pkg/controllers/externalsecret/externalsecret_controller.go ``createSecret``/``updateSecret``,
``fqdnFor`` in util.go), so its managed-fields entry is an ``Update`` one.
"""

from __future__ import annotations

from typing import Any

from acr_refresh.emulator.fieldsets import from_fields_v1
from tests.emulator import test_differential as differential
from tests.emulator.test_differential import NS, Side, apply, b64, both, secret, secrets_path, view

sides = differential.sides  # the two API servers, as the main differential tests have them

MERGE = "application/merge-patch+json"
ESO = "externalsecrets.external-secrets.io/pull"
OWNER = {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "name": "pull",
         "uid": "0b6f1c1e-5d2a-4c1b-9e7f-000000000001", "controller": True, "blockOwnerDeletion": True}
ESO_META = {"labels": {"reconcile.external-secrets.io/managed": "true", "app": "web"},
            "annotations": {"reconcile.external-secrets.io/data-hash": "h"}, "ownerReferences": [OWNER]}


_CONTAINERS = {("data",), ("metadata", "labels"), ("metadata", "annotations"), ("metadata", "ownerReferences")}


def _field(path: tuple[str, ...]) -> tuple[str, ...]:
    # The emulator records an owner reference as one field (the real server also lists its members).
    return path[:3] if path[:2] == ("metadata", "ownerReferences") else path


def ownership(obj: dict[str, Any]) -> list[tuple[str, str, list[tuple[str, ...]]]]:
    """(manager, operation, fields) per entry, in the server's order. The real server also keeps a map's own
    ``"."`` entry after its last key has moved to another manager; the emulator writes no ``"."`` entries."""
    return [(e["manager"], e["operation"],
             sorted({_field(p) for p in from_fields_v1(e.get("fieldsV1"))} - _CONTAINERS))
            for e in obj["metadata"].get("managedFields") or []]


def full(status: int, obj: dict[str, Any]) -> tuple[Any, ...]:
    """What the job reads, with the owner references (which decide garbage collection)."""
    if obj.get("kind") == "Status":
        return view(status, obj)
    meta = obj.get("metadata", {})
    return (status, obj.get("type"), obj.get("data"), meta.get("labels"), meta.get("annotations"),
            ownership(obj), meta.get("ownerReferences"))


def eso_secret(s: Side, name: str, *, namespace: bool = True) -> dict[str, Any]:
    if namespace:
        s.setup_namespace(NS)
    status, obj = s("POST", secrets_path() + f"?fieldManager={ESO}",
                    secret(name, type="Opaque", metadata=ESO_META, data={"k": b64("eso")}))
    assert status == 201, obj
    return obj


def cleanup(obj: dict[str, Any], kept: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"], "ownerReferences": None,
                         "labels": {"reconcile.external-secrets.io/managed": None},
                         "annotations": {"reconcile.external-secrets.io/data-hash": None},
                         "managedFields": kept}}


def test_take_over_apply_then_drop_eso_entry(sides: list[Side]) -> None:
    """Our apply (force, with the resourceVersion read) takes the data from ESO's Update entry; a merge patch
    with the resourceVersion then drops ESO's marks and replaces managedFields with the entries kept; a stale
    resourceVersion is a 409 and changes nothing."""
    def run(s: Side) -> list[Any]:
        obj = eso_secret(s, "t")
        out = [full(201, obj)]
        body = secret("t", type="Opaque", metadata={"annotations": {"acr-refresh/target": "x"},
                                                     "resourceVersion": obj["metadata"]["resourceVersion"]},
                      data={"k": b64("ours")})
        status, applied = apply(s, body, "acr-refresh", force=True)
        out.append(full(status, applied))
        stale = apply(s, body, "acr-refresh", force=True)  # the resourceVersion has moved on: 409
        out.append(full(*stale)[:3])
        kept = [e for e in applied["metadata"]["managedFields"] if e["manager"] != ESO]
        out.append(full(*s("PATCH", secrets_path("t") + "?fieldManager=acr-refresh", cleanup(obj, kept), MERGE)))
        status, cleaned = s("PATCH", secrets_path("t") + "?fieldManager=acr-refresh", cleanup(applied, kept),
                            MERGE)
        out.append(full(status, cleaned))
        # The next apply of the same body (no resourceVersion): no conflict, nothing changes.
        body["metadata"].pop("resourceVersion")
        status, again = apply(s, body, "acr-refresh")
        out.append((status, again["metadata"]["resourceVersion"] == cleaned["metadata"]["resourceVersion"]))
        return out

    both(sides, run)


def test_clearing_managed_fields_then_applying(sides: list[Side]) -> None:
    """As v1.20 does it: ``[]`` and ``[{}]`` both clear managedFields (later releases keep them on ``[]``);
    null or an entry that does not decode keeps them; an object without entries records no Update; the next
    apply gives every field it had to ``before-first-apply``. Take-over never clears the list: it applies first,
    so the list it writes back always holds our own entry."""
    def run(s: Side) -> list[Any]:
        out = []
        for name, given in (("n", None), ("b", [{"manager": "x", "operation": "Update"}]), ("e", []), ("c", [{}])):
            eso_secret(s, name, namespace=name == "n")
            out.append(full(*s("PATCH", secrets_path(name) + "?fieldManager=acr-refresh",
                               {"metadata": {"labels": {"team": name}, "managedFields": given}}, MERGE)))
        out.append(full(*s("PATCH", secrets_path("c") + "?fieldManager=kubectl",
                           {"metadata": {"labels": {"team": "c2"}}}, MERGE)))
        out.append(full(*apply(s, secret("c", type="Opaque", metadata={"annotations": {"acr-refresh/target": "x"}},
                                         data={"k": b64("ours")}), "acr-refresh", force=True)))
        return out

    both(sides, run)


def test_eso_orphan_update_drops_its_owner_reference(sides: list[Side]) -> None:
    """ESO switched to ``creationPolicy: Orphan`` removes its controller reference and its created-by label
    in an update (applyOwnership in externalsecret_controller.go); the entry keeps what it still sets."""
    def run(s: Side) -> list[Any]:
        obj = eso_secret(s, "o")
        obj["metadata"]["ownerReferences"] = []
        obj["data"] = {"k": b64("eso-2")}
        return [full(*s("PUT", secrets_path("o") + f"?fieldManager={ESO}", obj))]

    both(sides, run)

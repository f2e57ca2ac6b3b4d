"""Kubernetes Secrets and ServiceAccount ``imagePullSecrets``, through :class:`acr_refresh.kube.KubeClient`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import MERGING_CREATION_POLICIES
from ..errors import DeliveryError, truncate
from ..freshness import Stored
from ..kube import KubeClient
from ..render import (
    EXPIRES_ANNOTATION,
    HASH_ANNOTATION,
    ISSUED_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    TARGET_ANNOTATION,
    DesiredSecret,
)

log = logging.getLogger(__name__)

FIELD_MANAGER = "acr-refresh"
SA_UPDATE_ATTEMPTS = 5
# Ownership markers (see README "Prune"): CREATED is set only by our create request, which fails when the
# Secret exists, so a Secret that existed before can never come to carry it by our hand; and it counts only
# while our field manager owns it (a hand-added copy is owned by whoever added it).
CREATED_ANNOTATION = "acr-refresh/created"
POLICY_ANNOTATION = "acr-refresh/creation-policy"
# On a ServiceAccount: the Secrets we added to its imagePullSecrets (prune unlinks only these).
SA_PULL_SECRETS_ANNOTATION = "acr-refresh/image-pull-secrets"
# External Secrets Operator's own marks (ESO v2.9.0, pkg/controllers/externalsecret/): its field manager since
# 2022 (``fqdnFor``: ``externalsecrets.external-secrets.io/<ExternalSecret>``, or ``.../sha3/<hash>`` for long
# names), its older one, its label, and the controller reference of creationPolicy Owner.
ESO_MANAGER_PREFIX = "externalsecrets.external-secrets.io/"
ESO_MANAGERS = ("external-secrets",)
ESO_MANAGED_LABEL = "reconcile.external-secrets.io/managed"
ESO_OWNER_GROUP = "external-secrets.io"
ESO_OWNER_KIND = "ExternalSecret"
# Every label and annotation ESO sets on a Secret for itself is under this prefix: LabelManaged, LabelOwner
# (``created-by``, Owner only) and AnnotationDataHash (apis/externalsecrets/v1/externalsecret_types.go). The
# labels and annotations it copies from the ExternalSecret or its template are the user's and stay.
ESO_MARK_PREFIX = "reconcile.external-secrets.io/"
ESO_RELEASE_ATTEMPTS = 3
MAX_TOKEN_LIFETIME = timedelta(hours=24)
"""No registry token lives longer: a recorded expiry further after its issue time is not credible."""


@dataclass(frozen=True)
class Existing:
    """The parts of a live Secret that decide what to do with it. Everything here is tenant-editable."""

    type: str
    ours: bool
    """It carries a marker of ours: the created marker, our managed-by label, or our target annotation."""
    created: bool
    """We created it (the created marker, owned by our field manager)."""
    legacy: bool
    """Written by an earlier version: our managed-by label and no created marker."""
    eso_managed: bool
    """External Secrets Operator manages it (any of :func:`eso_marks`), whatever else it carries."""
    stored: Stored | None
    target: str
    policy: str = ""
    uid: str = ""
    resource_version: str = ""
    eso_marks: tuple[str, ...] = ()
    """What says ESO manages it, for the report (names only: an ExternalSecret, a manager, a label)."""


def parse_time(text: object) -> datetime | None:
    """An RFC 3339 time with a zone, in UTC; None for anything else (absent, zone-less, out of range)."""
    if not isinstance(text, str) or not text or len(text) > 64:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return when.astimezone(UTC) if when.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def credible_record(issued: object, expires: object) -> tuple[datetime | None, datetime | None]:
    """The recorded issue and expiry times if they make sense together, else ``(None, None)``: both
    zoned RFC 3339, expiry not before issue and at most :data:`MAX_TOKEN_LIFETIME` after it."""
    issued_at, expires_at = parse_time(issued), parse_time(expires)
    if issued_at is None or expires_at is None or not issued_at <= expires_at <= issued_at + MAX_TOKEN_LIFETIME:
        return None, None
    return issued_at, expires_at


def _str_map(value: object) -> dict[str, str]:
    return {str(k): v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _owns(entry: object, annotation: str) -> bool:
    if not isinstance(entry, dict) or entry.get("manager") != FIELD_MANAGER:
        return False
    fields = entry.get("fieldsV1")
    meta = fields.get("f:metadata") if isinstance(fields, dict) else None
    notes = meta.get("f:annotations") if isinstance(meta, dict) else None
    return isinstance(notes, dict) and f"f:{annotation}" in notes


def _eso_owner(ref: object) -> bool:
    return (isinstance(ref, dict) and ref.get("kind") == ESO_OWNER_KIND
            and str(ref.get("apiVersion", "")).split("/")[0] == ESO_OWNER_GROUP)


def _eso_manager(entry: object) -> bool:
    manager = str(entry.get("manager") or "") if isinstance(entry, dict) else ""
    return manager.startswith(ESO_MANAGER_PREFIX) or manager in ESO_MANAGERS


def eso_marks(meta: dict[str, Any]) -> tuple[str, ...]:
    """Each sign that External Secrets Operator manages a Secret: an ExternalSecret ownerReference, a
    managed-fields entry of ESO's field manager, ESO's managed label. Empty when there is none."""
    marks = [f"ownerReference to ExternalSecret {truncate(str(o.get('name') or ''), 80)}"
             for o in _list(meta.get("ownerReferences")) if _eso_owner(o)]
    marks += [f"field manager {truncate(str(e.get('manager')), 100)}"
              for e in _list(meta.get("managedFields")) if _eso_manager(e)]
    if _str_map(meta.get("labels")).get(ESO_MANAGED_LABEL) == "true":
        marks.append(f"label {ESO_MANAGED_LABEL}=true")
    return tuple(dict.fromkeys(marks))


def eso_managed(meta: dict[str, Any]) -> bool:
    """ESO manages it: an ExternalSecret ownerReference, ESO's field manager, or ESO's managed label."""
    return bool(eso_marks(meta))


def eso_release_patch(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON merge patch that removes ESO's marks from a Secret whose metadata is ``meta``, or None when it
    has none: its ExternalSecret ownerReferences (deleting the ExternalSecret would otherwise garbage-collect
    the Secret), its ``reconcile.external-secrets.io/`` labels and annotations, its managed-fields entries. The
    patch carries the ``resourceVersion`` read, so a Secret changed since is a 409, not a lost change; and the
    managedFields it writes are the other entries exactly as read (dropping entries is the only way to make a
    manager forget fields: apply cannot)."""
    out: dict[str, Any] = {}
    owners = _list(meta.get("ownerReferences"))
    if any(_eso_owner(o) for o in owners):
        out["ownerReferences"] = [o for o in owners if not _eso_owner(o)] or None
    for key in ("labels", "annotations"):
        notes = meta.get(key)
        ours = [k for k in notes if str(k).startswith(ESO_MARK_PREFIX)] if isinstance(notes, dict) else []
        if ours:
            out[key] = dict.fromkeys(ours)
    entries = _list(meta.get("managedFields"))
    if any(_eso_manager(e) for e in entries):
        # [{}] is the API server's way to clear the list (every version); never needed after our own apply.
        out["managedFields"] = [e for e in entries if not _eso_manager(e)] or [{}]
    if not out:
        return None
    return {"metadata": {"resourceVersion": str(meta.get("resourceVersion") or ""), **out}}


def inspect_secret(secret: dict[str, Any]) -> Existing:
    """Read type, ownership and our annotations from a live Secret (or its metadata only), as the API server
    sends it. Tenants can edit all of it: nothing here may raise, whatever it holds."""
    raw = secret.get("metadata")
    meta: dict[str, Any] = raw if isinstance(raw, dict) else {}
    labels, annotations = _str_map(meta.get("labels")), _str_map(meta.get("annotations"))
    entries = _list(meta.get("managedFields"))
    created = CREATED_ANNOTATION in annotations and any(_owns(e, CREATED_ANNOTATION) for e in entries)
    labelled = labels.get(MANAGED_BY_LABEL) == MANAGED_BY
    target = annotations.get(TARGET_ANNOTATION, "")
    ours = created or labelled or bool(target)
    marks = eso_marks(meta)
    stored = None
    # A Secret ESO manages is never fresh by our record: ESO may have rewritten it under our annotations (or
    # copied them from an ExternalSecret), so it goes to the write guard, which refuses it or takes it over.
    if ours and not marks:
        issued_at, expires_at = credible_record(annotations.get(ISSUED_ANNOTATION), annotations.get(EXPIRES_ANNOTATION))
        stored = Stored(issued_at=issued_at, expires_at=expires_at, inputs_hash=annotations.get(HASH_ANNOTATION, ""))
    kind = secret.get("type")
    return Existing(type=kind if isinstance(kind, str) and kind else "Opaque", ours=ours, created=created,
                    legacy=labelled and not created, eso_managed=bool(marks),
                    stored=stored, target=target, policy=annotations.get(POLICY_ANNOTATION, ""),
                    uid=str(meta.get("uid") or ""), resource_version=str(meta.get("resourceVersion") or ""),
                    eso_marks=marks)


def read_existing(client: KubeClient, namespace: str, name: str) -> Existing | None:
    """The live Secret's state, or None when there is none."""
    secret = client.read_secret(namespace, name)
    return inspect_secret(secret) if secret is not None else None


def check_write(cluster: str, desired: DesiredSecret, existing: Existing | None, *, creation_policy: str,
                take_over: bool) -> None:
    """The write guard alone (no request): raise the :class:`DeliveryError` :func:`write_secret` would refuse
    ``desired`` with, or return. A dry run can call it to say what a real run would refuse."""
    where = f"cluster {cluster}: Secret {desired.namespace}/{desired.name}"
    if existing is None:
        if creation_policy == "Merge":
            raise DeliveryError(f"{where} does not exist and creationPolicy Merge never creates", reason="missing")
        return
    if existing.eso_managed and not take_over:
        raise DeliveryError(f"{where} is managed by External Secrets Operator ({', '.join(existing.eso_marks)}): "
                            "refused in live state; stop ESO managing it (README \"Migrate from ESO's ACR "
                            f"generator\"), then run once with --take-over {desired.namespace}/{desired.name}",
                            reason="eso-managed")
    if existing.type != desired.type:
        raise DeliveryError(f"{where} has type {existing.type}, the template wants {desired.type}; Kubernetes "
                            "cannot change a Secret's type: delete it or change the template", reason="conflict")
    if creation_policy not in MERGING_CREATION_POLICIES and not existing.ours and not take_over:
        raise DeliveryError(f"{where} exists and was not written by acr-refresh; run with --take-over "
                            f"{desired.namespace}/{desired.name} to adopt it", reason="not-ours")


def write_secret(
    client: KubeClient, desired: DesiredSecret, existing: Existing | None, *, creation_policy: str, take_over: bool
) -> None:
    """Write ``desired`` if the rules allow; raise :class:`DeliveryError` (with a report reason) if not.

    - A missing Secret is created by a create request carrying our labels and the created marker (``Merge``
      never creates). If it appeared meanwhile, the create fails and nothing is overwritten.
    - An existing Secret (:func:`check_write`): refused when External Secrets Operator manages it (unless
      ``take_over`` names it), when its type differs (Kubernetes cannot change it), and, for
      ``Owner``/``Orphan``, when it carries no marker of ours (unless ``take_over``). ``Merge``/``CreateOrMerge``
      write only their data keys and our annotations, never labels, so an application's (say Helm's) labels
      stay as they are.
    - Writes are server-side applies with force, allowed because the body holds nothing but our own fields.
    - Taking a Secret over from ESO: the apply carries the resourceVersion the guard inspected (a Secret
      changed since is a 409, reason ``conflict``, left as it is), then :func:`release_eso` drops ESO's marks.
    """
    where = f"cluster {client.name}: Secret {desired.namespace}/{desired.name}"
    check_write(client.name, desired, existing, creation_policy=creation_policy, take_over=take_over)
    if existing is None:
        body = desired.manifest(annotations={**desired.annotations, CREATED_ANNOTATION: desired.annotations.get(
            ISSUED_ANNOTATION, "") or "true", POLICY_ANNOTATION: creation_policy})
        try:
            client.create_secret(body, field_manager=FIELD_MANAGER)
        except DeliveryError as exc:
            if exc.status == 409:
                raise DeliveryError(f"{where} appeared while this run wrote it: left as it is; the next run "
                                    "checks it again", status=409, reason="conflict") from exc
            if exc.status == 403:
                raise DeliveryError(f"{exc} (creating a Secret needs the 'create' verb on secrets)", status=403,
                                    reason="forbidden") from exc
            raise
        return
    # Labels only on Secrets we created (or an earlier version wrote): on others, annotations only.
    merge = creation_policy in MERGING_CREATION_POLICIES
    labels = desired.labels if (existing.created or existing.legacy) and not merge else {}
    body = desired.manifest(labels=labels, annotations={**desired.annotations, POLICY_ANNOTATION: creation_policy})
    if not existing.eso_managed:
        client.apply_secret(body, field_manager=FIELD_MANAGER)
        return
    # Taking over from ESO: apply (force moves ESO's data keys to us) only to the Secret the guard inspected,
    # then drop ESO's marks. In this order our own entry is never missing from the managedFields written back.
    if existing.resource_version:
        body["metadata"]["resourceVersion"] = existing.resource_version
    try:
        client.apply_secret(body, field_manager=FIELD_MANAGER)
    except DeliveryError as exc:
        if exc.status == 409:
            raise DeliveryError(f"{where} changed while this run took it over from External Secrets Operator: "
                                "left as it is; the next run checks it again", status=409, reason="conflict") from exc
        raise
    release_eso(client, desired.namespace, desired.name)


def release_eso(client: KubeClient, namespace: str, name: str) -> None:
    """Remove External Secrets Operator's marks from a Secret (:func:`eso_release_patch`), so the next run
    needs no ``--take-over``. Read, patch with the resourceVersion read; a 409 (changed meanwhile) reads again,
    up to :data:`ESO_RELEASE_ATTEMPTS` times. Raises :class:`DeliveryError` saying the credential is written."""
    where = f"cluster {client.name}: Secret {namespace}/{name}"
    for attempt in range(1, ESO_RELEASE_ATTEMPTS + 1):
        secret = client.read_secret(namespace, name)
        if secret is None:
            raise DeliveryError(f"{where} was deleted right after this run wrote it", reason="missing")
        patch = eso_release_patch(secret["metadata"])
        if patch is None:
            return
        try:
            client.patch_secret_metadata(namespace, name, patch, field_manager=FIELD_MANAGER)
            return
        except DeliveryError as exc:
            if exc.status == 409 and attempt < ESO_RELEASE_ATTEMPTS:
                continue
            raise DeliveryError(f"{exc}; the credential is written, but External Secrets Operator's marks are "
                                "still on it (is ESO still writing it?): run --take-over again once ESO has let go",
                                status=exc.status, reason="conflict" if exc.status == 409 else None) from exc


def release_secret(client: KubeClient, namespace: str, name: str) -> None:
    """Give up every field we own in a Secret we did not create (a removed ``Merge`` target): an apply of
    nothing but its identity removes our data keys and annotations, and only those no other manager owns."""
    client.apply_fields({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}},
                        field_manager=FIELD_MANAGER)


def _recorded(sa: Any) -> list[str]:
    notes = getattr(sa.metadata, "annotations", None) or {}
    text = notes.get(SA_PULL_SECRETS_ANNOTATION) if isinstance(notes, dict) else None
    return [n for n in str(text or "").split(",") if n]


def ensure_image_pull_secret(client: KubeClient, namespace: str, accounts: tuple[str, ...], secret: str) -> int:
    """Make each ServiceAccount (``*``: all in ``namespace``) list ``secret`` in ``imagePullSecrets``.

    ``imagePullSecrets`` is an atomic list, so an apply would replace it: read, add our entry once, keep
    every other entry, and update with the resourceVersion read, retrying on a 409 conflict. The same update
    records ``secret`` in the ServiceAccount's ``acr-refresh/image-pull-secrets`` annotation, so prune later
    unlinks only what we linked. Returns how many ServiceAccounts were changed.
    """
    names = ([sa.metadata.name for sa in client.list_service_accounts(namespace)] if accounts == ("*",)
             else list(accounts))
    changed = 0
    for name in names:
        for attempt in range(1, SA_UPDATE_ATTEMPTS + 1):
            sa = client.read_service_account(namespace, name)
            if sa is None:
                raise DeliveryError(f"cluster {client.name}: ServiceAccount {namespace}/{name} does not exist")
            entries = list(sa.image_pull_secrets or [])
            if any(getattr(e, "name", None) == secret for e in entries):
                break
            from kubernetes import client as k8s

            sa.image_pull_secrets = [*entries, k8s.V1LocalObjectReference(name=secret)]
            notes = dict(sa.metadata.annotations or {})
            notes[SA_PULL_SECRETS_ANNOTATION] = ",".join(dict.fromkeys([*_recorded(sa), secret]))
            sa.metadata.annotations = notes
            try:
                client.replace_service_account(namespace, name, sa)
            except DeliveryError as exc:
                if exc.status == 409 and attempt < SA_UPDATE_ATTEMPTS:
                    continue
                raise
            changed += 1
            break
    return changed


def remove_image_pull_secret(client: KubeClient, namespace: str, secret: str) -> int:
    """Remove ``secret`` from the ServiceAccounts of ``namespace`` that record that we added it (prune, in
    the run that deletes the Secret); an entry someone else added is left alone."""
    removed = 0
    for sa in client.list_service_accounts(namespace):
        if secret not in _recorded(sa):
            continue
        entries = list(sa.image_pull_secrets or [])
        sa.image_pull_secrets = [e for e in entries if getattr(e, "name", None) != secret]
        rest = [n for n in _recorded(sa) if n != secret]
        notes = dict(sa.metadata.annotations or {})
        if rest:
            notes[SA_PULL_SECRETS_ANNOTATION] = ",".join(rest)
        else:
            notes.pop(SA_PULL_SECRETS_ANNOTATION, None)
        sa.metadata.annotations = notes
        client.replace_service_account(namespace, sa.metadata.name, sa)
        removed += 1
    return removed

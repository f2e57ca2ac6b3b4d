"""Kubernetes Secrets and ServiceAccount ``imagePullSecrets``, through :class:`acr_refresh.kube.KubeClient`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Mapping
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
# Drift (README "Drift"): a digest of the data a write put there, and the keys it covers. An Owner target's
# Secret has drifted when its data is not exactly that; a Merge/CreateOrMerge target's when its recorded keys
# are not (other keys are someone else's). See :func:`data_digest` for why the digest tells nothing.
DATA_HASH_ANNOTATION = "acr-refresh/data-hash"
DATA_KEYS_ANNOTATION = "acr-refresh/data-keys"
# Merge/CreateOrMerge targets may share one Secret (disjoint keys, acr_refresh.overlap): each keeps its own
# record, under these annotation names with a per-target suffix, and writes as its own field manager, so one's
# apply never removes the other's keys and one's record never makes the other stale (no rewrite loop).
GENERATOR_ANNOTATION = "acr-refresh/generator"
RECORD_ANNOTATIONS = (GENERATOR_ANNOTATION, TARGET_ANNOTATION, ISSUED_ANNOTATION, EXPIRES_ANNOTATION,
                      HASH_ANNOTATION, DATA_HASH_ANNOTATION, DATA_KEYS_ANNOTATION, POLICY_ANNOTATION)
REPLACE_ATTEMPTS = 3
"""Attempts of the patch that removes the keys a Replace write does not keep (each on a fresh read)."""
MAX_TOKEN_LIFETIME = timedelta(hours=24)
"""No registry token lives longer: a recorded expiry further after its issue time is not credible."""


def record_suffix(target_key: str, creation_policy: str) -> str:
    """The suffix of a target's record annotations: empty for ``Owner``/``Orphan`` (one target, one Secret),
    ``.<10 hex>`` of the target's key for ``Merge``/``CreateOrMerge`` (several may share the Secret)."""
    if creation_policy not in MERGING_CREATION_POLICIES:
        return ""
    return "." + hashlib.sha256(target_key.encode()).hexdigest()[:10]


def field_manager(suffix: str) -> str:
    """The field manager a target writes as: ``acr-refresh``, or ``acr-refresh/<suffix>`` for a merging one."""
    return f"{FIELD_MANAGER}/{suffix[1:]}" if suffix else FIELD_MANAGER


def merge_records(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(suffix, target key)`` of every merging target's record on a Secret (from its metadata)."""
    annotations = _str_map(meta.get("annotations"))
    return [(k[len(TARGET_ANNOTATION):], v) for k, v in sorted(annotations.items())
            if k.startswith(TARGET_ANNOTATION + ".")]


def _suffixed(annotations: Mapping[str, str], suffix: str) -> dict[str, str]:
    return {(k + suffix if suffix and k in RECORD_ANNOTATIONS else k): v for k, v in annotations.items()}


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
    data_keys: tuple[str, ...] = ()
    """The names of its data keys (never values)."""
    data_intact: bool | None = None
    """The keys our last write recorded hold what it wrote (:data:`DATA_HASH_ANNOTATION`); None when there is
    no record (an earlier version wrote it, or only its metadata was read)."""
    foreign_keys: tuple[str, ...] = ()
    """Data keys our last write did not write (only known with a record)."""
    suffix: str = ""
    """The record read (:func:`record_suffix`); for a metadata listing, the first merging record found."""
    others_keys: frozenset[str] = frozenset()
    """Data keys the records of other targets sharing this Secret say they write (Merge)."""


def data_digest(namespace: str, name: str, data: Mapping[str, bytes]) -> str:
    """The digest recorded of the data a write put in Secret ``namespace/name``: HMAC-SHA256 over every key and
    value (length-prefixed, keys sorted), keyed by a hash of the Secret's identity, truncated to 128 bits.

    Why it leaks nothing useful: whoever can read the annotation can read the Secret's data itself (both come
    with the same ``get``/``list`` on secrets); the data includes a registry token of hundreds of random bits,
    so the digest cannot be inverted or guessed offline; the key differs per Secret, so two Secrets holding the
    same token do not show it; and 128 bits are plenty to notice a change. It is not a seal against someone who
    can write the Secret (they can recompute it): it catches edits, as ESO's own ``data-hash`` does."""
    key = hashlib.sha256(f"acr-refresh data-hash v1\0{namespace}\0{name}".encode()).digest()
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for k in sorted(data):
        raw_key, value = k.encode(), data[k]
        mac.update(len(raw_key).to_bytes(4, "big") + raw_key + len(value).to_bytes(8, "big") + value)
    return mac.hexdigest()[:32]


def data_record(desired: DesiredSecret, suffix: str = "") -> dict[str, str]:
    """The annotations recording what a write of ``desired`` puts in the data: its digest and its keys."""
    data = {k: v.encode() for k, v in desired.data.items()}
    return {DATA_HASH_ANNOTATION + suffix: data_digest(desired.namespace, desired.name, data),
            DATA_KEYS_ANNOTATION + suffix: ",".join(sorted(data))}


def _decoded(raw: object) -> dict[str, bytes] | None:
    """A Secret's ``data`` decoded, or None if any value is not base64 (then it matches no record)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return None
    try:
        return {str(k): base64.b64decode(v, validate=True) for k, v in raw.items() if isinstance(v, str)}
    except (binascii.Error, ValueError):
        return None


def drifted(existing: Existing | None, creation_policy: str) -> bool:
    """Its data is no longer what our last write put there, so the next run rewrites it (reason ``drifted``):
    a recorded key changed or is gone, or (``Owner``) a key was added. Never for a Secret without a record, nor
    for ``Orphan``, as ESO v2.9.0's ``isSecretValid`` (externalsecret_controller.go) holds an Orphan Secret
    always valid; a ``Merge``/``CreateOrMerge`` target's other keys, any label, annotation or other field never
    count, so no edit of someone else's part makes a target stale forever."""
    if existing is None or existing.data_intact is None or creation_policy in ("Orphan", "None"):
        return False
    if not existing.data_intact:
        return True
    return creation_policy not in MERGING_CREATION_POLICIES and bool(existing.foreign_keys)


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
    labels = _str_map(meta.get("labels"))
    if ESO_MANAGED_LABEL in labels:  # ESO writes "true"; the label's presence is the mark, whatever its value
        marks.append(f"label {ESO_MANAGED_LABEL}={truncate(labels[ESO_MANAGED_LABEL], 20)}")
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


def inspect_secret(secret: dict[str, Any], suffix: str | None = None) -> Existing:
    """Read type, ownership and our annotations from a live Secret (or its metadata only), as the API server
    sends it. ``suffix``: whose record to read (:func:`record_suffix`); None (a prune listing) reads the
    unsuffixed one, else the first merging target's. Tenants can edit all of it: nothing here may raise."""
    raw = secret.get("metadata")
    meta: dict[str, Any] = raw if isinstance(raw, dict) else {}
    labels, annotations = _str_map(meta.get("labels")), _str_map(meta.get("annotations"))
    if suffix is None:
        suffix = "" if TARGET_ANNOTATION in annotations else next(
            (k[len(TARGET_ANNOTATION):] for k in sorted(annotations) if k.startswith(TARGET_ANNOTATION + ".")), "")
    entries = _list(meta.get("managedFields"))
    created = CREATED_ANNOTATION in annotations and any(_owns(e, CREATED_ANNOTATION) for e in entries)
    labelled = labels.get(MANAGED_BY_LABEL) == MANAGED_BY
    mine = {k: annotations[k + suffix] for k in RECORD_ANNOTATIONS if k + suffix in annotations}
    # (only other merging records: an unsuffixed one is an Owner's, or this target's before per-target records)
    others = frozenset(key for k, v in annotations.items() if k.startswith(DATA_KEYS_ANNOTATION + ".")
                       and k != DATA_KEYS_ANNOTATION + suffix for key in v.split(",") if key)
    target = mine.get(TARGET_ANNOTATION, "")
    ours = created or labelled or bool(target)
    marks = eso_marks(meta)
    stored = None
    # A Secret ESO manages is never fresh by our record: ESO may have rewritten it under our annotations (or
    # copied them from an ExternalSecret), so it goes to the write guard, which refuses it or takes it over.
    if ours and not marks:
        issued_at, expires_at = credible_record(mine.get(ISSUED_ANNOTATION), mine.get(EXPIRES_ANNOTATION))
        stored = Stored(issued_at=issued_at, expires_at=expires_at, inputs_hash=mine.get(HASH_ANNOTATION, ""))
    kind = secret.get("type")
    # A metadata-only listing (prune) has no type: then nothing is known of the data.
    full = "type" in secret or "data" in secret
    data = _decoded(secret.get("data")) if full else None
    keys = tuple(str(k) for k in secret.get("data") or {}) if full and isinstance(secret.get("data"), dict) else ()
    intact: bool | None = None
    foreign: tuple[str, ...] = ()
    recorded = mine.get(DATA_HASH_ANNOTATION, "")
    if full and recorded:
        wrote = [k for k in mine.get(DATA_KEYS_ANNOTATION, "").split(",") if k]
        ours_now = {k: data[k] for k in wrote if k in data} if data is not None else {}
        intact = (data is not None and len(ours_now) == len(set(wrote)) and hmac.compare_digest(
            data_digest(str(meta.get("namespace") or ""), str(meta.get("name") or ""), ours_now), recorded))
        foreign = tuple(k for k in keys if k not in set(wrote))
    return Existing(type=kind if isinstance(kind, str) and kind else "Opaque", ours=ours, created=created,
                    legacy=labelled and not created, eso_managed=bool(marks),
                    stored=stored, target=target, policy=mine.get(POLICY_ANNOTATION, ""),
                    uid=str(meta.get("uid") or ""), resource_version=str(meta.get("resourceVersion") or ""),
                    eso_marks=marks, data_keys=keys, data_intact=intact, foreign_keys=foreign, suffix=suffix,
                    others_keys=others)


def read_existing(client: KubeClient, namespace: str, name: str, suffix: str = "") -> Existing | None:
    """The live Secret's state as one target sees it (its record: ``suffix``), or None when there is none."""
    secret = client.read_secret(namespace, name)
    return inspect_secret(secret, suffix) if secret is not None else None


def check_write(cluster: str, desired: DesiredSecret, existing: Existing | None, *, creation_policy: str,
                take_over: bool, type_from_template: bool = True) -> None:
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
    if existing.type != written_type(desired, existing, creation_policy, type_from_template):
        raise DeliveryError(f"{where} has type {existing.type}, the template wants {desired.type}; Kubernetes "
                            "cannot change a Secret's type: delete it or change the template", reason="conflict")
    if creation_policy not in MERGING_CREATION_POLICIES and not existing.ours and not take_over:
        raise DeliveryError(f"{where} exists and was not written by acr-refresh; run with --take-over "
                            f"{desired.namespace}/{desired.name} to adopt it", reason="not-ours")


def written_type(desired: DesiredSecret, existing: Existing | None, creation_policy: str,
                 type_from_template: bool) -> str:
    """The type a write gives the Secret: a ``Merge``/``CreateOrMerge`` write into an existing Secret whose
    template sets no type keeps the Secret's own, as ESO v2.9.0's ApplyTemplate does (``if Template.Type !=
    ""``, externalsecret_controller_template.go); otherwise the template's (default ``Opaque``)."""
    if existing is not None and creation_policy in MERGING_CREATION_POLICIES and not type_from_template:
        return existing.type
    return desired.type


def write_secret(
    client: KubeClient, desired: DesiredSecret, existing: Existing | None, *, creation_policy: str, take_over: bool,
    type_from_template: bool = True,
) -> None:
    """Write ``desired`` if the rules allow; raise :class:`DeliveryError` (with a report reason) if not.

    - A missing Secret is created by a create request carrying our labels and the created marker (``Merge``
      never creates). If it appeared meanwhile, the create fails and nothing is overwritten.
    - An existing Secret (:func:`check_write`): refused when External Secrets Operator manages it (unless
      ``take_over`` names it), when its type differs (Kubernetes cannot change it; a ``Merge``/``CreateOrMerge``
      template without a type keeps the Secret's, :func:`written_type`), and, for ``Owner``/``Orphan``, when
      it carries no marker of ours (unless ``take_over``). ``Merge``/``CreateOrMerge`` write only their data
      keys and our annotations, never labels, so an application's (say Helm's) labels stay as they are.
    - Writes are server-side applies with force, allowed because the body holds nothing but our own fields.
    - ``Owner``/``Orphan`` replace the data, as ESO's ApplyTemplate does (it clears ``secret.Data`` unless
      Merge/CreateOrMerge): after the apply, :func:`settle` removes every data key the template did not produce
      (an ESO-era key, a hand-added one) with a merge patch carrying the resourceVersion the apply answered.
    - Every write records a digest of the data it wrote (:func:`data_record`), which later runs compare
      (:func:`drifted`).
    - Taking a Secret over from ESO: the apply carries the resourceVersion the guard inspected (a Secret
      changed since is a 409, reason ``conflict``, left as it is), then :func:`settle` drops ESO's marks too.
    """
    where = f"cluster {client.name}: Secret {desired.namespace}/{desired.name}"
    check_write(client.name, desired, existing, creation_policy=creation_policy, take_over=take_over,
                type_from_template=type_from_template)
    suffix = record_suffix(desired.annotations.get(TARGET_ANNOTATION, ""), creation_policy)
    manager = field_manager(suffix)
    record = data_record(desired, suffix)
    annotations = _suffixed({**desired.annotations, POLICY_ANNOTATION: creation_policy}, suffix)
    if existing is None:
        created = desired.annotations.get(ISSUED_ANNOTATION, "") or "true"
        body = desired.manifest(annotations={**annotations, **record, CREATED_ANNOTATION: created})
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
    shared = sorted(set(desired.data) & existing.others_keys) if merge else []
    if shared:  # two sharers writing one key would overwrite each other every run
        raise DeliveryError(f"{where}: data key(s) {', '.join(shared)} are written by another target sharing this "
                            "Secret: left as it is (Merge targets sharing a Secret need disjoint keys)",
                            reason="conflict")
    labels = desired.labels if (existing.created or existing.legacy) and not merge else {}
    body = desired.manifest(labels=labels, annotations={**annotations, **record})
    body["type"] = written_type(desired, existing, creation_policy, type_from_template)
    if merge and not existing.eso_managed:
        client.apply_secret(body, field_manager=manager)
        return
    # Taking over from ESO: apply (force moves ESO's data keys to us) only to the Secret the guard inspected,
    # then drop ESO's marks. In this order our own entry is never missing from the managedFields written back.
    if existing.eso_managed and existing.resource_version:
        body["metadata"]["resourceVersion"] = existing.resource_version
    try:
        live = client.apply_secret(body, field_manager=manager, read_back=True)
    except DeliveryError as exc:
        if exc.status == 409 and existing.eso_managed:
            raise DeliveryError(f"{where} changed while this run took it over from External Secrets Operator: "
                                "left as it is; the next run checks it again", status=409, reason="conflict") from exc
        raise
    settle(client, desired, live, keep=None if merge else frozenset(desired.data))


def settle_patch(meta: dict[str, Any], data: object, keep: frozenset[str] | None) -> dict[str, Any] | None:
    """The merge patch that finishes a write of a Secret now holding ``meta`` and ``data``: ESO's marks
    removed (:func:`eso_release_patch`) and, for a Replace write (``keep`` the template's keys), every other
    data key set to null. None when there is nothing to do. It carries the resourceVersion read and writes no
    value, so it can only remove keys from exactly that version: never the data just written."""
    patch = eso_release_patch(meta) or {"metadata": {"resourceVersion": str(meta.get("resourceVersion") or "")}}
    foreign = [str(k) for k in data if str(k) not in keep] if keep is not None and isinstance(data, dict) else []
    if foreign:
        patch["data"] = dict.fromkeys(foreign)
    return patch if foreign or len(patch["metadata"]) > 1 else None


def settle(client: KubeClient, desired: DesiredSecret, live: dict[str, Any] | None, *,
           keep: frozenset[str] | None) -> None:
    """After the apply of a Replace write or a take-over: remove what the write does not keep
    (:func:`settle_patch`) from ``live`` (the apply's answer). A 409 (changed meanwhile) reads again and
    recomputes, up to :data:`REPLACE_ATTEMPTS` times. Raises :class:`DeliveryError` saying the credential is
    written (and the next run finds the Secret ``drifted`` and tries again)."""
    where = f"cluster {client.name}: Secret {desired.namespace}/{desired.name}"
    for attempt in range(1, REPLACE_ATTEMPTS + 1):
        if live is None:
            live = client.read_secret(desired.namespace, desired.name)
        if live is None:
            raise DeliveryError(f"{where} was deleted right after this run wrote it", reason="missing")
        meta = live.get("metadata")
        patch = settle_patch(meta if isinstance(meta, dict) else {}, live.get("data"), keep)
        if patch is None:
            return
        try:
            client.patch_secret_metadata(desired.namespace, desired.name, patch, field_manager=FIELD_MANAGER)
            return
        except DeliveryError as exc:
            if exc.status == 409 and attempt < REPLACE_ATTEMPTS:
                live = None
                continue
            left = []
            if "data" in patch:
                left.append(f"data keys {', '.join(sorted(patch['data']))} (not produced by its template)")
            if eso_release_patch(meta if isinstance(meta, dict) else {}):
                left.append("External Secrets Operator's marks")
            hint = ("run --take-over again once ESO has let go" if len(left) > 1 or "data" not in patch
                    else "the next run finds it drifted and removes them")
            raise DeliveryError(f"{exc}; the credential is written, but {' and '.join(left)} are still on it "
                                f"(is someone else writing it?): {hint}",
                                status=exc.status, reason="conflict" if exc.status == 409 else None) from exc


def release_secret(client: KubeClient, namespace: str, name: str, suffix: str = "") -> None:
    """Give up every field a target owns in a Secret we did not create (a removed ``Merge`` target, its record
    ``suffix``): an apply of nothing but its identity, as that target's field manager, removes its data keys
    and annotations, and only those no other manager owns (another target sharing the Secret keeps its own)."""
    client.apply_fields({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}},
                        field_manager=field_manager(suffix))


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

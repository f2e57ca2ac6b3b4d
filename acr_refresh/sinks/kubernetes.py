"""Kubernetes Secrets and ServiceAccount ``imagePullSecrets``, through :class:`acr_refresh.kube.KubeClient`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import DeliveryError
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
ESO_MANAGERS = ("external-secrets",)
SA_UPDATE_ATTEMPTS = 5


@dataclass(frozen=True)
class Existing:
    """The parts of a live Secret that decide what to do with it."""

    type: str
    ours: bool
    eso_managed: bool
    stored: Stored | None
    target: str


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def inspect_secret(secret: dict[str, Any]) -> Existing:
    """Read type, ownership and our annotations from a live Secret (its JSON, as the API server sends it)."""
    meta = secret.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    annotations = dict(meta.get("annotations") or {})
    ours = labels.get(MANAGED_BY_LABEL) == MANAGED_BY
    owners = meta.get("ownerReferences") or []
    eso_owner = any(o.get("kind") == "ExternalSecret"
                    and str(o.get("apiVersion", "")).startswith("external-secrets.io/") for o in owners)
    eso_fields = any((m.get("manager") or "") in ESO_MANAGERS for m in (meta.get("managedFields") or []))
    stored = None
    if ours:
        stored = Stored(
            issued_at=_parse_time(annotations.get(ISSUED_ANNOTATION)),
            expires_at=_parse_time(annotations.get(EXPIRES_ANNOTATION)),
            inputs_hash=annotations.get(HASH_ANNOTATION, ""),
        )
    return Existing(type=secret.get("type") or "Opaque", ours=ours, eso_managed=(eso_owner or eso_fields) and not ours,
                    stored=stored, target=annotations.get(TARGET_ANNOTATION, ""))


def read_existing(client: KubeClient, namespace: str, name: str) -> Existing | None:
    """The live Secret's state, or None when there is none."""
    secret = client.read_secret(namespace, name)
    return inspect_secret(secret) if secret is not None else None


def write_secret(
    client: KubeClient, desired: DesiredSecret, existing: Existing | None, *, creation_policy: str, take_over: bool
) -> None:
    """Apply ``desired`` if the rules allow; raise :class:`DeliveryError` saying why not.

    Refuses: a Secret whose type differs (Kubernetes forbids changing it), one that External Secrets
    Operator manages (unless ``take_over``), and a missing Secret under creationPolicy ``Merge``.
    """
    where = f"cluster {client.name}: Secret {desired.namespace}/{desired.name}"
    if existing is None and creation_policy == "Merge":
        raise DeliveryError(f"{where} does not exist and creationPolicy Merge never creates")
    if existing is not None:
        if existing.eso_managed and not take_over:
            raise DeliveryError(f"{where} is managed by External Secrets Operator; stop ESO managing it or "
                                "run with --take-over to migrate")
        if existing.type != desired.type:
            raise DeliveryError(f"{where} has type {existing.type}, the template wants {desired.type}; Kubernetes "
                                "cannot change a Secret's type: delete it or change the template")
    try:
        client.apply_secret(desired.manifest(), field_manager=FIELD_MANAGER)
    except DeliveryError as exc:
        if exc.status == 403 and existing is None:
            # The API server's own text for this case is empty ('secrets "x" is forbidden: '): say what is missing.
            raise DeliveryError(f"{exc} (creating a Secret by server-side apply needs the 'create' verb on "
                                "secrets as well as 'patch')", status=403) from exc
        raise


def ensure_image_pull_secret(client: KubeClient, namespace: str, accounts: tuple[str, ...], secret: str) -> int:
    """Make each ServiceAccount (``*``: all in ``namespace``) list ``secret`` in ``imagePullSecrets``.

    ``imagePullSecrets`` is an atomic list, so an apply would replace it: read, add our entry once, keep
    every other entry, and update with the resourceVersion read, retrying on a 409 conflict.
    Returns how many ServiceAccounts were changed.
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
    """Remove ``secret`` from every ServiceAccount of ``namespace`` that lists it (used by --prune)."""
    removed = 0
    for sa in client.list_service_accounts(namespace):
        entries = list(sa.image_pull_secrets or [])
        kept = [e for e in entries if getattr(e, "name", None) != secret]
        if len(kept) != len(entries):
            sa.image_pull_secrets = kept
            client.replace_service_account(namespace, sa.metadata.name, sa)
            removed += 1
    return removed

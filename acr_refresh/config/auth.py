"""ESO's ``auth`` block (servicePrincipal, managedIdentity, workloadIdentity), shared by every kind with one."""

from __future__ import annotations

from .fields import _ENV_NAME, _GUID, _SUBDOMAIN, Doc
from .model import Auth, ManagedIdentity, SecretRef, ServiceAccountRef, ServicePrincipal, WorkloadIdentity


def _secret_ref(doc: Doc, path: str, namespace: str) -> SecretRef:
    ref = doc.mapping(path, required=True)
    doc.known_fields(path, ("name", "key", "namespace", "env"))
    env = doc.string(f"{path}.env")
    if env:
        if not _ENV_NAME.fullmatch(env):
            raise doc.error(f"{path}.env", f"{env!r} is not a valid environment variable name")
        if ref.get("name") or ref.get("key"):
            raise doc.error(path, "give either env or name/key, not both")
        return SecretRef(env=env)
    name = doc.string(f"{path}.name", required=True)
    key = doc.string(f"{path}.key", required=True)
    ref_ns = doc.string(f"{path}.namespace")
    if ref_ns and ref_ns != namespace:
        # ESO refuses cross-namespace references from namespaced objects; so do we.
        raise doc.error(f"{path}.namespace", f"must be the generator's own namespace {namespace!r} or empty")
    return SecretRef(namespace=namespace, name=name, key=key)


def parse_auth(doc: Doc, path: str, namespace: str) -> Auth:
    """Parse an ESO ``auth`` block. With several blocks the first of servicePrincipal, managedIdentity,
    workloadIdentity wins, as in ESO, and a warning names the ignored ones."""
    auth = doc.mapping(path, required=True)
    order = ("servicePrincipal", "managedIdentity", "workloadIdentity")
    present = [k for k in order if k in auth and auth[k] is not None]
    unknown = [k for k in auth if k not in order]
    if unknown:
        raise doc.error(f"{path}.{unknown[0]}", f"unknown auth block; expected one of {', '.join(order)}")
    if not present:
        raise doc.error(path, f"needs one of {', '.join(order)}")
    chosen = present[0]
    if len(present) > 1:
        doc.warn(f"{path} has {', '.join(present)}; using {chosen} as ESO does, ignoring {', '.join(present[1:])}")
    base = f"{path}.{chosen}"
    doc.mapping(base)  # type check: each block is a mapping (an empty one is allowed for workloadIdentity)
    if chosen == "servicePrincipal":
        doc.known_fields(base, ("secretRef",))
        doc.known_fields(f"{base}.secretRef", ("clientId", "clientSecret"))
        return ServicePrincipal(
            client_id=_secret_ref(doc, f"{base}.secretRef.clientId", namespace),
            client_secret=_secret_ref(doc, f"{base}.secretRef.clientSecret", namespace),
        )
    if chosen == "managedIdentity":
        doc.known_fields(base, ("identityId",))
        identity_id = doc.string(f"{base}.identityId")
        if identity_id and "/" not in identity_id and not _GUID.fullmatch(identity_id):
            raise doc.error(f"{base}.identityId", "must be empty, a client ID (GUID) or a resource ID")
        if "/" in identity_id and not identity_id.lower().startswith("/subscriptions/"):
            raise doc.error(f"{base}.identityId", "a resource ID must start with /subscriptions/")
        return ManagedIdentity(identity_id=identity_id)
    doc.known_fields(base, ("serviceAccountRef",))
    sa = doc.mapping(f"{base}.serviceAccountRef")
    if not sa:
        return WorkloadIdentity()
    sa_path = f"{base}.serviceAccountRef"
    doc.known_fields(sa_path, ("name", "namespace", "audiences"))
    sa_name = doc.string(f"{sa_path}.name", required=True)
    if not _SUBDOMAIN.fullmatch(sa_name):
        raise doc.error(f"{sa_path}.name", f"{sa_name!r} is not a valid ServiceAccount name")
    sa_ns = doc.string(f"{sa_path}.namespace") or namespace
    audiences = doc.get(f"{sa_path}.audiences", list) or []
    if not all(isinstance(a, str) and a.strip() for a in audiences):
        raise doc.error(f"{sa_path}.audiences", "must be a list of non-empty strings")
    return WorkloadIdentity(ServiceAccountRef(sa_ns, sa_name, tuple(a.strip() for a in audiences)))


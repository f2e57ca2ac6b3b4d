"""``acr-refresh schema``: a JSON Schema (draft 2020-12) for every config kind acr-refresh reads.

For editors (the YAML language server: ``# yaml-language-server: $schema=acr-refresh.schema.json``). The
loader's own validation stays the authority (it also checks registry hosts, scopes and templates); this
schema catches shape errors as you type. Pure data.
"""

from __future__ import annotations

from typing import Any

from .clouds import ENVIRONMENT_TYPES
from .config import CREATION_POLICIES, MERGE_POLICIES, SCOPE_ACTIONS

_STR: dict[str, Any] = {"type": "string"}
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_NAME: dict[str, Any] = {"type": "string", "pattern": _DNS_SUBDOMAIN, "maxLength": 253}
_DURATION: dict[str, Any] = {"type": "string", "pattern": r"^(0|(\d+(\.\d*)?(ns|us|µs|ms|s|m|h))+)$",
                             "description": "Go duration, e.g. 90s, 30m, 1h30m"}
_STRING_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False,
            **extra}


def _metadata(namespaced: bool) -> dict[str, Any]:
    props: dict[str, Any] = {"name": _NAME, "labels": _STRING_MAP, "annotations": _STRING_MAP}
    if namespaced:
        props["namespace"] = {"type": "string", "description": "default: default"}
    return {"type": "object", "properties": props, "required": ["name"]}


def _secret_ref() -> dict[str, Any]:
    return {
        "oneOf": [
            _obj({"name": _NAME, "key": _STR, "namespace": _STR}, ("name", "key"),
                 description="A key of a Kubernetes Secret in the object's namespace"),
            _obj({"env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}}, ("env",),
                 description="acr-refresh extension: an environment variable (an app setting on Azure Functions)"),
        ]
    }


def _auth() -> dict[str, Any]:
    sp = _obj({"secretRef": _obj({"clientId": _secret_ref(), "clientSecret": _secret_ref()},
                                 ("clientId", "clientSecret"))}, ("secretRef",))
    mi = _obj({"identityId": {"type": "string", "description": "empty: system-assigned; a client ID; or a "
                                                               "resource ID (contains '/')"}})
    wi = _obj({"serviceAccountRef": _obj({"name": _NAME, "namespace": _STR,
                                          "audiences": {"type": "array", "items": _STR}}, ("name",))})
    return {
        "type": "object",
        "properties": {"servicePrincipal": sp, "managedIdentity": mi, "workloadIdentity": wi},
        "additionalProperties": False,
        "minProperties": 1,
        "description": "One of servicePrincipal, managedIdentity, workloadIdentity (the first wins, as in ESO)",
    }


def _template() -> dict[str, Any]:
    return _obj({
        "type": _STR,
        "engineVersion": {"enum": ["v2"]},
        "mergePolicy": {"enum": list(MERGE_POLICIES)},
        "metadata": _obj({"labels": _STRING_MAP, "annotations": _STRING_MAP}),
        "data": {**_STRING_MAP, "description": "Go templates over username, password, registry, tokenType, "
                                               "expiresAt"},
    })


def _document(api_version: str, kind: str, spec: dict[str, Any], *, namespaced: bool = True,
              spec_required: bool = True) -> dict[str, Any]:
    return {
        "if": {"properties": {"apiVersion": {"const": api_version}, "kind": {"const": kind}},
               "required": ["apiVersion", "kind"]},
        "then": {
            "type": "object",
            "properties": {"apiVersion": {"const": api_version}, "kind": {"const": kind},
                           "metadata": _metadata(namespaced), "spec": spec},
            "required": ["apiVersion", "kind", "metadata", *(["spec"] if spec_required else [])],
        },
    }


def config_schema() -> dict[str, Any]:
    """The JSON Schema of one config document (any kind acr-refresh reads)."""
    scope_pattern = r"^repository:[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*:" \
                    rf"({'|'.join(SCOPE_ACTIONS)})(,({'|'.join(SCOPE_ACTIONS)}))*$"
    acr = _obj({
        "registry": {"type": "string", "description": "Login server, e.g. myregistry.azurecr.io"},
        "tenantId": _STR,
        "scope": {"type": "string", "pattern": scope_pattern},
        "environmentType": {"enum": list(ENVIRONMENT_TYPES)},
        "auth": _auth(),
    }, ("registry", "auth"))
    external_secret = {
        "type": "object",
        "properties": {
            "refreshInterval": _DURATION,
            "dataFrom": {"type": "array", "items": {"type": "object"}},
            "target": {"type": "object", "properties": {
                "name": _NAME, "creationPolicy": {"enum": list(CREATION_POLICIES)}, "template": _template()}},
        },
    }
    refresh_policy = _obj({"minRemaining": _DURATION})
    selector = _obj({"matchLabels": _STRING_MAP, "matchExpressions": {"type": "array", "items": _obj(
        {"key": _STR, "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
         "values": {"type": "array", "items": _STR}}, ("key", "operator"))}})
    selectors = {"type": "array", "items": selector, "description": "ORed: a namespace matching any one is chosen"}
    kube_secret = _obj({
        "generatorRef": _obj({"name": _NAME}, ("name",)),
        "clusters": {"type": "array", "items": _NAME},
        "namespaces": {"type": "array", "items": _STR},
        "namespaceSelector": selector,
        "namespaceSelectors": selectors,
        "excludeNamespaces": {"type": "array", "items": _STR},
        "name": _NAME,
        "template": _template(),
        "serviceAccounts": {"type": "array", "items": _STR},
        "refreshPolicy": refresh_policy,
    }, ("generatorRef",))
    vault_secret = _obj({
        "generatorRef": _obj({"name": _NAME}, ("name",)),
        "vaultUrl": {"type": "string", "pattern": "^https://"},
        "secretName": {"type": "string", "pattern": "^[0-9A-Za-z-]{1,127}$"},
        "value": _STR,
        "contentType": _STR,
        "tags": _STRING_MAP,
        "tenantId": _STR,
        "environmentType": {"enum": list(ENVIRONMENT_TYPES)},
        "auth": _auth(),
        "refreshPolicy": refresh_policy,
    }, ("generatorRef", "vaultUrl", "secretName"))
    cluster_generator = {
        "type": "object",
        "properties": {"kind": _STR, "generator": {"type": "object", "minProperties": 1, "maxProperties": 1,
                                                   "properties": {"acrAccessTokenSpec": acr}}},
        "required": ["kind", "generator"],
        "description": "spec.kind ACRAccessToken is read (instantiated in each consuming namespace); other kinds "
                       "are listed as not handled",
    }
    cluster_external_secret = _obj({
        "externalSecretSpec": external_secret,
        "externalSecretName": _NAME,
        "externalSecretMetadata": _obj({"labels": _STRING_MAP, "annotations": _STRING_MAP}),
        "namespaceSelector": selector,
        "namespaceSelectors": selectors,
        "namespaces": {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                                                  "maxLength": 63}},
        "refreshTime": _DURATION,
    }, ("externalSecretSpec",))
    cluster = {
        "type": "object",
        "properties": {
            "inCluster": {"const": True},
            "kubeconfig": _obj({"path": _STR, "context": _STR}, ("path",)),
            "aks": _obj({"server": {"type": "string", "pattern": "^https://"}, "certificateAuthorityData": _STR,
                         "tenantId": _STR, "environmentType": {"enum": list(ENVIRONMENT_TYPES)}, "auth": _auth()},
                        ("server", "certificateAuthorityData", "auth")),
        },
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://acr-refresh.dev/schema/v1alpha1/config.json",
        "title": "acr-refresh configuration document",
        "type": "object",
        "required": ["apiVersion", "kind"],
        "properties": {"apiVersion": _STR, "kind": _STR},
        "allOf": [
            _document("generators.external-secrets.io/v1alpha1", "ACRAccessToken", acr),
            _document("external-secrets.io/v1beta1", "ExternalSecret", external_secret),
            _document("external-secrets.io/v1", "ExternalSecret", external_secret),
            _document("generators.external-secrets.io/v1alpha1", "ClusterGenerator", cluster_generator,
                      namespaced=False),
            _document("external-secrets.io/v1beta1", "ClusterExternalSecret", cluster_external_secret,
                      namespaced=False),
            _document("external-secrets.io/v1", "ClusterExternalSecret", cluster_external_secret, namespaced=False),
            _document("acr-refresh/v1alpha1", "KubernetesSecret", kube_secret),
            _document("acr-refresh/v1alpha1", "KeyVaultSecret", vault_secret),
            _document("acr-refresh/v1alpha1", "Cluster", cluster, namespaced=False),
            {
                "if": {"properties": {"apiVersion": {"const": "acr-refresh/v1alpha1"}}, "required": ["apiVersion"]},
                "then": {"properties": {"kind": {"enum": ["KubernetesSecret", "KeyVaultSecret", "Cluster"]}}},
            },
        ],
    }

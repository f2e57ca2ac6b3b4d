"""Configuration files → typed, validated objects. No network: everything here is checked up front.

A configuration is a YAML or JSON file (possibly multi-document, or a ``kind: List``) or a directory of
``*.yaml``, ``*.yml`` and ``*.json`` files read in sorted order. Documents are Kubernetes-style objects:

- ``generators.external-secrets.io/v1alpha1`` ``ACRAccessToken``: ESO's generator, read unchanged;
- ``acr-refresh/v1alpha1``: our own kinds (an unknown kind there is an error: a typo must not do nothing);
- anything else is listed as *not handled* and does not fail the run.

Every error is a :class:`~acr_refresh.errors.ConfigError` naming the file, the document and the field.

The package, one job per module: ``reading`` (files → documents, YAML safety), ``model`` (the typed objects),
``fields`` (checks every kind shares), ``auth`` (ESO's auth block), ``eso`` (ESO's kinds), ``ours`` (our
kinds), ``build`` (documents → :class:`Config`).
"""

from __future__ import annotations

from ..errors import ConfigError, Location
from .auth import parse_auth
from .build import build_config, load_config
from .cluster import parse_cluster_external_secret, parse_cluster_generator
from .eso import parse_acr_access_token, parse_external_secret
from .fields import Doc, check_registry, check_scope, check_vault_url
from .model import (
    ACR_KIND,
    AUDIENCE_ANNOTATION,
    CLUSTER_ANNOTATION,
    CLUSTER_GENERATOR_KIND,
    CREATION_POLICIES,
    DEFAULT_NAMESPACE,
    DOCKERCONFIGJSON,
    ESO_GENERATOR_GROUP,
    ESO_GROUP,
    MERGE_POLICIES,
    MERGING_CREATION_POLICIES,
    MIN_REMAINING_ANNOTATION,
    OUR_API_VERSION,
    SCOPE_ACTIONS,
    TEMPLATE_KEYS,
    AksAccess,
    Auth,
    ClusterConfig,
    ClusterGenerator,
    ClusterGeneratorInstance,
    Config,
    Generator,
    KeyVaultTarget,
    KubernetesTarget,
    LabelSelector,
    ManagedIdentity,
    SecretRef,
    SecretTemplate,
    ServiceAccountRef,
    ServicePrincipal,
    Unhandled,
    WorkloadIdentity,
    cluster_generator_key,
)
from .ours import parse_cluster, parse_key_vault_secret, parse_kubernetes_secret
from .reading import CONFIG_SUFFIXES, MAX_FILE_BYTES, config_files, read_documents

__all__ = [
    "ACR_KIND",
    "AUDIENCE_ANNOTATION",
    "CLUSTER_ANNOTATION",
    "CLUSTER_GENERATOR_KIND",
    "CONFIG_SUFFIXES",
    "CREATION_POLICIES",
    "DEFAULT_NAMESPACE",
    "DOCKERCONFIGJSON",
    "ESO_GENERATOR_GROUP",
    "ESO_GROUP",
    "MAX_FILE_BYTES",
    "MERGE_POLICIES",
    "MERGING_CREATION_POLICIES",
    "MIN_REMAINING_ANNOTATION",
    "OUR_API_VERSION",
    "SCOPE_ACTIONS",
    "TEMPLATE_KEYS",
    "AksAccess",
    "Auth",
    "ClusterConfig",
    "ClusterGenerator",
    "ClusterGeneratorInstance",
    "Config",
    "ConfigError",
    "Doc",
    "Generator",
    "KeyVaultTarget",
    "KubernetesTarget",
    "LabelSelector",
    "Location",
    "ManagedIdentity",
    "SecretRef",
    "SecretTemplate",
    "ServiceAccountRef",
    "ServicePrincipal",
    "Unhandled",
    "WorkloadIdentity",
    "build_config",
    "check_registry",
    "check_scope",
    "check_vault_url",
    "cluster_generator_key",
    "config_files",
    "load_config",
    "parse_acr_access_token",
    "parse_auth",
    "parse_cluster",
    "parse_cluster_external_secret",
    "parse_cluster_generator",
    "parse_external_secret",
    "parse_key_vault_secret",
    "parse_kubernetes_secret",
    "read_documents",
]

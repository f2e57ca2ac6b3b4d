"""The typed objects a validated configuration is made of: generators, targets, clusters. Pure data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from ..clouds import PUBLIC, Cloud
from ..errors import Location

ESO_GENERATOR_GROUP = "generators.external-secrets.io"
ESO_GROUP = "external-secrets.io"
OUR_API_VERSION = "acr-refresh/v1alpha1"
ACR_KIND = "ACRAccessToken"
AUDIENCE_ANNOTATION = "acr-refresh/entra-audience"
TOKEN_AUDIENCE_ANNOTATION = "acr-refresh/token-audience"
ESO_TOKEN_AUDIENCE = "api://AzureADTokenExchange"
"""What ESO's ACR generator asks for a ServiceAccount token in every cloud (generators/v1/acr/acr.go)."""
OUR_ANNOTATION_PREFIX = "acr-refresh/"
"""Our control annotations: read from config objects, never copied to a Secret."""
DEFAULT_NAMESPACE = "default"

SCOPE_ACTIONS = ("pull", "push", "delete", "metadata_read", "metadata_write")

@dataclass(frozen=True)
class SecretRef:
    """Where a credential input comes from: a key of a Kubernetes Secret, or an environment variable."""

    namespace: str = ""
    name: str = ""
    key: str = ""
    env: str = ""

    def describe(self) -> str:
        """A human description that names the source, never the value."""
        if self.env:
            return f"env {self.env}"
        return f"secret {self.namespace}/{self.name} key {self.key}"


@dataclass(frozen=True)
class ServicePrincipal:
    """``auth.servicePrincipal``: a client ID and secret, each read from a :class:`SecretRef`."""

    client_id: SecretRef
    client_secret: SecretRef
    kind: str = "servicePrincipal"


@dataclass(frozen=True)
class ManagedIdentity:
    """``auth.managedIdentity``: ``identity_id`` empty (system-assigned), a client ID, or a resource ID."""

    identity_id: str = ""
    kind: str = "managedIdentity"

    @property
    def client_id(self) -> str:
        """The user-assigned identity's client ID, or empty."""
        return self.identity_id if self.identity_id and "/" not in self.identity_id else ""

    @property
    def resource_id(self) -> str:
        """The user-assigned identity's ARM resource ID, or empty."""
        return self.identity_id if "/" in self.identity_id else ""


@dataclass(frozen=True)
class ServiceAccountRef:
    """A Kubernetes ServiceAccount whose token is exchanged (workload identity federation)."""

    namespace: str
    name: str
    audiences: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkloadIdentity:
    """``auth.workloadIdentity``: a ServiceAccount's token, or the ambient ``AZURE_FEDERATED_TOKEN_FILE``."""

    service_account: ServiceAccountRef | None = None
    kind: str = "workloadIdentity"


Auth = ServicePrincipal | ManagedIdentity | WorkloadIdentity


@dataclass(frozen=True)
class Generator:
    """One ``ACRAccessToken``: what to mint, for which registry, with which identity."""

    namespace: str
    name: str
    registry: str
    auth: Auth
    cloud: Cloud
    tenant_id: str = ""
    scope: str = ""
    audience: str = "acr"
    """``acr`` (the registry's own Entra audience, default) or ``arm`` (Resource Manager, as ESO)."""
    token_audience: str = "eso"
    """The audience asked for a ServiceAccount token: ``eso`` (``api://AzureADTokenExchange`` in every cloud, as
    ESO asks, so a federated credential made for ESO keeps matching) or ``cloud`` (the cloud's own, e.g.
    ``api://AzureADTokenExchangeUSGov``), from annotation ``acr-refresh/token-audience``."""
    location: Location | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """``namespace/name``: how the CLI, the report and the HTTP trigger name this generator."""
        return f"{self.namespace}/{self.name}"

    @property
    def token_type(self) -> str:
        """``access`` with a scope, else ``refresh``."""
        return "access" if self.scope else "refresh"

    @property
    def service_account_audience(self) -> str:
        """The audience of the ServiceAccount token exchanged for an Entra token (workload identity)."""
        return self.cloud.token_exchange_audience if self.token_audience == "cloud" else ESO_TOKEN_AUDIENCE

    @property
    def entra_scope(self) -> str:
        """The Entra ID scope requested for this generator's audience."""
        return self.cloud.arm_scope if self.audience == "arm" else self.cloud.acr_scope


@dataclass(frozen=True)
class Unhandled:
    """A document this build reads but does not act on, listed in the plan."""

    location: Location
    api_version: str
    kind: str
    reason: str


@dataclass(frozen=True)
class Config:
    """A whole validated configuration."""

    generators: tuple[Generator, ...] = ()
    kube_targets: tuple[KubernetesTarget, ...] = ()
    vault_targets: tuple[KeyVaultTarget, ...] = ()
    clusters: tuple[ClusterConfig, ...] = ()
    cluster_generators: tuple[ClusterGenerator, ...] = ()
    unhandled: tuple[Unhandled, ...] = ()
    warnings: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    def generator(self, key: str) -> Generator | None:
        """Look a generator up by ``namespace/name`` (a bare name means the ``default`` namespace), or a
        ClusterGenerator instance by ``ClusterGenerator/<name>@<namespace>`` (made for any namespace)."""
        if key.startswith(f"{CLUSTER_GENERATOR_KIND}/"):
            name, at, ns = key.partition("/")[2].partition("@")
            for c in self.cluster_generators:
                if c.name == name and at and ns:
                    return c.instantiate(ns)
            return None
        ns, _, name = key.rpartition("/")
        ns = ns or DEFAULT_NAMESPACE
        for g in self.generators:
            if g.namespace == ns and g.name == name and not isinstance(g, ClusterGeneratorInstance):
                return g
        return None


TEMPLATE_KEYS = ("username", "password", "registry", "tokenType", "expiresAt")
CREATION_POLICIES = ("Owner", "Orphan", "Merge", "CreateOrMerge", "None")
MERGING_CREATION_POLICIES = ("Merge", "CreateOrMerge")
"""Policies that write into a Secret they share: only their own keys, never labels, never deleted."""
MERGE_POLICIES = ("Replace", "Merge")
CLUSTER_ANNOTATION = "acr-refresh/cluster"
MIN_REMAINING_ANNOTATION = "acr-refresh/min-remaining"
DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"

@dataclass(frozen=True)
class LabelSelector:
    """A Kubernetes label selector (``matchLabels`` and ``matchExpressions``)."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfy every requirement."""
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        for key, op, values in self.match_expressions:
            present = key in labels
            if op == "In" and (not present or labels[key] not in values):
                return False
            if op == "NotIn" and present and labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
        return True

    def keys(self) -> frozenset[str]:
        """The label keys this selector looks at."""
        return frozenset([k for k, _ in self.match_labels] + [k for k, _, _ in self.match_expressions])

    def to_query(self) -> str:
        """The ``labelSelector`` query string the API server understands."""
        parts = [f"{k}={v}" for k, v in self.match_labels]
        for key, op, values in self.match_expressions:
            if op in ("In", "NotIn"):
                parts.append(f"{key} {op.lower()} ({','.join(values)})")
            elif op == "Exists":
                parts.append(key)
            else:
                parts.append(f"!{key}")
        return ",".join(parts)


TEMPLATE_TARGETS = ("Data", "Annotations", "Labels")
DECODING_STRATEGIES = ("None", "Base64", "Base64URL", "Auto")


@dataclass(frozen=True)
class TemplateFrom:
    """One ``template.templateFrom`` source: a ConfigMap's or Secret's keys (read at run time in the target's
    namespace, untrusted), or a literal; with where the result goes and how its values are decoded."""

    source: str
    """``configMap``, ``secret`` or ``literal``."""
    name: str = ""
    items: tuple[tuple[str, str], ...] = ()
    """``(key, templateAs)``: ``Values`` (the key's template renders one value at that key) or
    ``KeysAndValues`` (it renders a YAML map of keys and values)."""
    literal: str = ""
    target: str = "Data"
    """``Data``, ``Annotations`` or ``Labels``."""
    decoding: str = "None"
    """``valuesDecodingStrategy``: ``None``, ``Base64``, ``Base64URL`` or ``Auto``."""


@dataclass(frozen=True)
class SecretTemplate:
    """ESO's ``target.template`` (engine v2): Secret type, templated metadata and data."""

    type: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    data: tuple[tuple[str, str], ...] | None = None
    """Templated data keys; None means the generator's ``username`` and ``password`` (or, for the
    dockerconfigjson type, a ``.dockerconfigjson`` for the registry)."""
    merge_policy: str = "Replace"
    finalizers: tuple[str, ...] = ()
    """``template.metadata.finalizers``, set on the Secret."""
    template_from: tuple[TemplateFrom, ...] = ()
    """``template.templateFrom``, applied in order before ``data`` (which wins), as ESO's ``ApplyTemplate``."""
    copied_labels: tuple[tuple[str, str], ...] = ()
    """An ExternalSecret's own labels, copied to its Secret as they are (not templated) when it has no
    ``target.template``, as ESO does."""
    copied_annotations: tuple[tuple[str, str], ...] = ()
    """Likewise its annotations, less our own ``acr-refresh/...`` control annotations."""


@dataclass(frozen=True)
class Rewrite:
    """One ``dataFrom[].rewrite`` operation on the generator's key names, as ESO's ``esutils.RewriteMap``."""

    regexp_source: str = ""
    regexp_target: str = ""
    transform: str = ""
    """A template over ``.value`` (the key name); empty for a regexp operation."""


@dataclass(frozen=True)
class SyncWindow:
    """One ``syncWindows.windows`` entry: a cron schedule (UTC) and how long each window stays open."""

    schedule: str
    duration: timedelta


@dataclass(frozen=True)
class SyncWindows:
    """ESO's ``spec.syncWindows``: ``allow`` (refresh only inside a window) or ``deny`` (never inside one)."""

    kind: str
    windows: tuple[SyncWindow, ...]


REFRESH_POLICIES = ("Periodic", "CreatedOnce", "OnChange")
DELETION_POLICIES = ("Retain", "Delete", "Merge")


@dataclass(frozen=True)
class KubernetesTarget:
    """Where Kubernetes Secrets go: from an ESO ``ExternalSecret`` or our ``KubernetesSecret``."""

    source_kind: str
    """``ExternalSecret`` or ``KubernetesSecret``: the config object this came from."""
    namespace: str
    name: str
    generator: str
    """The generator's ``namespace/name``."""
    secret_name: str
    template: SecretTemplate
    clusters: tuple[str, ...] = ("default",)
    namespaces: tuple[str, ...] = ()
    selectors: tuple[LabelSelector, ...] = ()
    """Namespace label selectors, ORed (a namespace matching any one is chosen), beside :attr:`namespaces`."""
    exclude_namespaces: tuple[str, ...] = ()
    generator_ref_kind: str = ACR_KIND
    """``ACRAccessToken`` or ``ClusterGenerator``: the kind the generatorRef names."""
    generator_name: str = ""
    """The generatorRef's name. With an empty :attr:`generator` (a ClusterExternalSecret) it is resolved in
    each expanded namespace: see :meth:`generator_for`."""
    creation_policy: str = "Owner"
    refresh_interval: timedelta | None = None
    """ESO's ``refreshInterval`` as a maximum age; ``timedelta(0)`` means create once, never refresh."""
    min_remaining: timedelta | None = None
    service_accounts: tuple[str, ...] = ()
    rewrites: tuple[Rewrite, ...] = ()
    """``dataFrom[].rewrite``, applied in order to the generator's key names before templating."""
    key_names: tuple[tuple[str, str], ...] = (("username", "username"), ("password", "password"))
    """Each generator key and its name after :attr:`rewrites` (worked out in config, where a collision or an
    empty name is refused)."""
    refresh_policy: str = "Periodic"
    """ESO's ``refreshPolicy``: ``Periodic``, ``CreatedOnce`` (written once, never refreshed) or ``OnChange``
    (rewritten only when the target's definition changes)."""
    sync_windows: SyncWindows | None = None
    """ESO's ``syncWindows``: when a periodic refresh may happen (a missing Secret or a changed definition is
    written at any time, as in ESO)."""
    deletion_policy: str = "Retain"
    """ESO's ``deletionPolicy``, validated; a generator's data never disappears, so it never deletes."""
    immutable: bool = False
    """``target.immutable``: the Secret is created immutable (only for a create-once target)."""
    location: Location | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        if not self.namespace:  # cluster-scoped source (ClusterExternalSecret)
            return f"{self.source_kind}/{self.name}"
        return f"{self.source_kind}/{self.namespace}/{self.name}"

    @property
    def per_namespace(self) -> bool:
        """The generator is resolved in each namespace the target expands to (a ClusterExternalSecret)."""
        return not self.generator

    def generator_for(self, namespace: str) -> str:
        """The key of the generator that feeds this target's Secret in ``namespace``: the fixed
        :attr:`generator`, else the ACRAccessToken ``namespace/name`` or the ClusterGenerator instance
        ``ClusterGenerator/name@namespace`` (secretRefs and ServiceAccounts resolved there, as ESO does)."""
        if self.generator:
            return self.generator
        if self.generator_ref_kind == CLUSTER_GENERATOR_KIND:
            return cluster_generator_key(self.generator_name, namespace)
        return f"{namespace}/{self.generator_name}"


CLUSTER_GENERATOR_KIND = "ClusterGenerator"


def cluster_generator_key(name: str, namespace: str = "") -> str:
    """``ClusterGenerator/<name>@<namespace>``: how the CLI, the report and Secrets name the ClusterGenerator
    ``name`` instantiated for ``namespace`` (``ClusterGenerator/<name>`` without one: all its instances)."""
    return f"{CLUSTER_GENERATOR_KIND}/{name}@{namespace}" if namespace else f"{CLUSTER_GENERATOR_KIND}/{name}"


@dataclass(frozen=True)
class ClusterGeneratorInstance(Generator):
    """A ClusterGenerator instantiated for one consuming namespace: a virtual ACRAccessToken there, as ESO's
    ``clusterGeneratorToVirtual`` makes one (``runtime/esutils/resolvers/generator.go``)."""

    cluster_generator: str = ""
    """The ClusterGenerator's name."""

    @property
    def key(self) -> str:
        return cluster_generator_key(self.cluster_generator, self.namespace)


@dataclass(frozen=True)
class ClusterGenerator:
    """ESO's cluster-scoped ``ClusterGenerator`` with ``spec.kind: ACRAccessToken``. Its ``template`` was
    read as an ACRAccessToken in a placeholder namespace; :meth:`instantiate` moves it into a namespace."""

    name: str
    template: Generator
    location: Location | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return cluster_generator_key(self.name)

    def instantiate(self, namespace: str) -> ClusterGeneratorInstance:
        """The generator for an ExternalSecret in ``namespace``: its secretRefs and ServiceAccount are read
        there (ESO's ACR generator reads both in the consuming namespace, ``generators/v1/acr/acr.go``)."""
        auth = self.template.auth
        if isinstance(auth, ServicePrincipal):
            auth = replace(auth, client_id=_in(auth.client_id, namespace),
                           client_secret=_in(auth.client_secret, namespace))
        elif isinstance(auth, WorkloadIdentity) and auth.service_account is not None:
            auth = replace(auth, service_account=replace(auth.service_account, namespace=namespace))
        t = self.template
        return ClusterGeneratorInstance(namespace=namespace, name=t.name, registry=t.registry, auth=auth,
                                        cloud=t.cloud, tenant_id=t.tenant_id, scope=t.scope, audience=t.audience,
                                        location=self.location, cluster_generator=self.name)


def _in(ref: SecretRef, namespace: str) -> SecretRef:
    return ref if ref.env else replace(ref, namespace=namespace)


@dataclass(frozen=True)
class KeyVaultTarget:
    """Our ``KeyVaultSecret``: one Key Vault secret fed by a generator."""

    namespace: str
    name: str
    generator: str
    vault_url: str
    secret_name: str
    value: str = "{{ .password }}"
    content_type: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    tenant_id: str = ""
    cloud: Cloud = PUBLIC
    auth: Auth | None = None
    """None: the ambient identity (managed identity on Azure, workload identity in AKS, developer login)."""
    min_remaining: timedelta | None = None
    location: Location | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return f"KeyVaultSecret/{self.namespace}/{self.name}"

    @property
    def vault_host(self) -> str:
        return self.vault_url.split("://", 1)[-1].rstrip("/")


@dataclass(frozen=True)
class AksAccess:
    """``Cluster.spec.aks``: an AKS API server reached with an Entra ID token for the AKS server app."""

    server: str
    certificate_authority_data: str = field(repr=False)
    tenant_id: str
    cloud: Cloud
    auth: Auth
    allow_custom_server: bool = False
    """``spec.aks.allowCustomServer``: the server may be any https URL, not only the cloud's AKS domains."""


@dataclass(frozen=True)
class ClusterConfig:
    """Our cluster-scoped ``Cluster``: a named connection to a Kubernetes API."""

    name: str
    in_cluster: bool = False
    kubeconfig: str = ""
    context: str = ""
    aks: AksAccess | None = None
    location: Location | None = field(default=None, compare=False)


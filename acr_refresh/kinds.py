"""Which document kinds exist, so a near miss is an error and not a silently skipped document. Pure data.

A document in the ``external-secrets.io``, ``generators.external-secrets.io`` or ``acr-refresh`` group whose
kind or version neither ESO nor acr-refresh defines, or in a group within edit distance 2 of one of them,
is refused in config: a typo there would otherwise leave a target out of the run (and, with ``--prune``,
its Secret unwanted). Kinds ESO defines that acr-refresh does not act on stay "not handled".

ESO's kinds as its API packages register them (``apis/externalsecrets``, ``apis/generators/v1alpha1/
register.go``), a superset of v2.9.0's, so no valid ESO document is refused.
"""

from __future__ import annotations

ESO_GROUP = "external-secrets.io"
ESO_GENERATOR_GROUP = "generators.external-secrets.io"
OUR_GROUP = "acr-refresh"

KINDS: dict[str, dict[str, frozenset[str]]] = {
    ESO_GROUP: {
        "v1": frozenset({"ExternalSecret", "ClusterExternalSecret", "SecretStore", "ClusterSecretStore"}),
        "v1beta1": frozenset({"ExternalSecret", "ClusterExternalSecret", "SecretStore", "ClusterSecretStore"}),
        "v1alpha1": frozenset({"PushSecret", "ClusterPushSecret", "ExternalSecret", "SecretStore",
                               "ClusterSecretStore"}),
    },
    ESO_GENERATOR_GROUP: {
        "v1alpha1": frozenset({
            "ACRAccessToken", "BeyondtrustWorkloadCredentialsDynamicSecret", "ClusterGenerator",
            "CloudsmithAccessToken", "CodeArtifactAuthorizationToken", "ECRAuthorizationToken", "Fake",
            "GCRAccessToken", "GeneratorState", "GithubAccessToken", "Grafana", "MFA", "Password",
            "QuayAccessToken", "SSHKey", "STSSessionToken", "UUID", "VaultDynamicSecret", "Webhook",
        }),
    },
    OUR_GROUP: {"v1alpha1": frozenset({"Cluster", "KeyVaultSecret", "KubernetesSecret"})},
}


def distance(a: str, b: str) -> int:
    """Levenshtein distance (small strings only)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def near_miss(api_version: str, kind: str) -> tuple[str, str] | None:
    """``(field, reason)`` when ``apiVersion``/``kind`` almost names a kind we or ESO define, else None."""
    group, _, version = api_version.rpartition("/")
    if group not in KINDS:
        close = [g for g in KINDS if distance(group.lower(), g) <= 2]
        if close and group:
            return "apiVersion", f"unknown API group {group!r}: did you mean {close[0]!r}?"
        if not group and distance(version.lower(), OUR_GROUP) <= 2:
            return "apiVersion", f"unknown apiVersion {api_version!r}: did you mean '{OUR_GROUP}/v1alpha1'?"
        return None
    versions = KINDS[group]
    if version not in versions:
        return "apiVersion", f"{group} has no version {version!r} (known: {', '.join(sorted(versions))})"
    if kind not in versions[version]:
        known = sorted(versions[version])
        nearest = min(known, key=lambda k: distance(kind.lower(), k.lower()))
        hint = f"; did you mean {nearest!r}?" if distance(kind.lower(), nearest.lower()) <= 3 else ""
        return "kind", f"{group}/{version} defines no kind {kind!r}{hint}"
    return None

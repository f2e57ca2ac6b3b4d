"""Configs that must be refused (exit 2, HTTP 503) naming file, document and field: the operator mistakes of
issue 11, shared by the CLI and Functions tests. Each escaped as a traceback (exit 1) or HTTP 500 before."""

from __future__ import annotations

from tests.conftest import acr_generator

_ES = """\
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: es
{meta}spec:
  dataFrom:
    - sourceRef: {{generatorRef: {{kind: ACRAccessToken, name: good}}}}
{spec}"""

BAD_CONFIGS: dict[str, tuple[str, str]] = {
    # id: (second document after a valid generator, the field the error must name)
    "refreshInterval-too-large": (_ES.format(meta="", spec="  refreshInterval: 9999999999999h\n"),
                                  "spec.refreshInterval"),
    "min-remaining-annotation-too-large": (
        _ES.format(meta="  annotations: {acr-refresh/min-remaining: 99999999999999999999h}\n", spec=""),
        "metadata.annotations.acr-refresh/min-remaining"),
    "minRemaining-too-large": (
        "apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: ks}\nspec:\n"
        "  generatorRef: {name: good}\n  refreshPolicy: {minRemaining: 2562048h}\n", "spec.refreshPolicy.minRemaining"),
    "sourceRef-empty": ("apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: es}\nspec:\n"
                        "  dataFrom:\n    - sourceRef:\n", "spec.dataFrom[0].sourceRef"),
    "cluster-spec-empty": ("apiVersion: acr-refresh/v1alpha1\nkind: Cluster\nmetadata: {name: edge}\nspec:\n", "spec"),
    "duplicate-key": ("apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {name: ks}\nspec:\n"
                      "  generatorRef: {name: good}\n  namespaces: [a]\n  namespaces: [b]\n", "spec.namespaces"),
}


def bad_config_docs(case: str) -> tuple[str, str]:
    """The two documents of ``case`` (a valid generator ``default/good``, then the bad one)."""
    return acr_generator("good"), BAD_CONFIGS[case][0]

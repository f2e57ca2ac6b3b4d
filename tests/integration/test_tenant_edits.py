"""Tenant data is untrusted: whatever a tenant with the ``edit`` role writes into a Secret's annotations,
labels and data, the run never raises, the other tenants' targets are unaffected, and one report is produced.
On both Kubernetes tiers (the real API server refuses what Kubernetes refuses, so the strategies stay within
what a tenant can actually store)."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, run
from acr_refresh.sinks.kubernetes import credible_record
from tests.conftest import acr_generator, fast_services, write_config

pytestmark = pytest.mark.kube

OURS = ["acr-refresh/issued-at", "acr-refresh/expires-at", "acr-refresh/inputs-hash", "acr-refresh/target",
        "acr-refresh/created", "acr-refresh/creation-policy", "acr-refresh/generator"]
TIMES = ["2026-01-01T00:00:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2026-13-45T99:00:00Z",
         "2026-01-01T00:00:00Z", "2126-01-01T00:00:00Z", "", "null", "1e308", "2026-01-01T00:00:00.123456789Z"]
KEY_CHARS = string.ascii_letters + string.digits + "-._"
label_value = st.from_regex(r"\A([A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?)?\Z")
annotations = st.dictionaries(
    st.sampled_from(OURS) | st.from_regex(r"\A[a-z][a-z0-9-]{0,10}\Z"),
    st.sampled_from(TIMES) | st.text(max_size=40), max_size=8)
labels = st.dictionaries(st.sampled_from(["app.kubernetes.io/managed-by", "team", "a"]), label_value, max_size=3)
data = st.dictionaries(st.text(KEY_CHARS, min_size=1, max_size=12).filter(lambda k: k not in (".", "..")),
                       st.text(max_size=60), max_size=4)


@pytest.mark.parametrize("record,credible", [
    (("2026-01-01T00:00:00Z", "2026-01-01T03:00:00Z"), True),
    (("2026-01-01T00:00:00", "2026-01-01T03:00:00"), False),          # no zone
    (("2026-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"), False),   # beyond datetime's range in UTC
    (("2026-01-01T03:00:00Z", "2026-01-01T00:00:00Z"), False),        # expires before it was issued
    (("2026-01-01T00:00:00Z", "2026-01-02T00:00:01Z"), False),        # longer than any registry token
    (("2026-01-01T00:00:00+02:00", "2026-01-01T01:00:00+00:00"), True),
])
def test_a_recorded_time_is_used_only_when_credible(record: tuple[str, str], credible: bool) -> None:
    issued, expires = credible_record(*record)
    assert (issued is not None and expires is not None) is credible


@pytest.mark.parametrize("expires", ["2026-01-01T00:00:00", "9999-12-31T23:59:59-14:00"])
def test_an_edited_expiry_rewrites_that_target_only(em: Emulator, tmp_path: Path, expires: str) -> None:
    for ns in ("team-a", "team-b"):
        em.add_namespace(ns)
    path = write_config(tmp_path, acr_generator(), kube_secret("team-a"), kube_secret("team-b"))
    assert run(load_config(path), RunOptions(), services=fast_services()).ok
    tamper(em, "team-a", {"annotations": {"acr-refresh/expires-at": expires}})
    report = run(load_config(path), RunOptions(), services=fast_services()).to_dict()
    json.dumps(report)
    by_ns = {t["namespace"]: t for g in report["generators"] for t in g["targets"]}
    assert (by_ns["team-a"]["status"], by_ns["team-a"]["reason"]) == ("written", "no-record")
    assert (by_ns["team-b"]["status"], by_ns["team-b"]["reason"]) == ("fresh", "valid")


def kube_secret(ns: str) -> str:
    return (f"apiVersion: acr-refresh/v1alpha1\nkind: KubernetesSecret\nmetadata: {{name: pull-{ns}}}\nspec:\n"
            f"  generatorRef: {{name: gen}}\n  namespaces: [{ns}]\n  name: pull\n  template: {{type: Opaque}}\n")


def tamper(em: Emulator, ns: str, edit: dict) -> None:
    """What a tenant can do with ``kubectl edit``: replace the Secret's labels, annotations and data."""
    obj = em.get_object("secrets", ns, "pull")
    assert obj is not None
    meta = obj["metadata"]
    import base64

    current = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (obj.get("data") or {}).items()}
    em.add_secret(ns, "pull", edit.get("data", current), type="Opaque",
                  labels=edit.get("labels", meta.get("labels")),
                  annotations={**(meta.get("annotations") or {}), **edit.get("annotations", {})},
                  managed_by="kubectl-edit")


def test_whatever_a_tenant_writes_the_run_goes_on(em: Emulator, tmp_path: Path) -> None:
    for ns in ("team-a", "team-b"):
        em.add_namespace(ns)
    path = write_config(tmp_path, acr_generator(), kube_secret("team-a"), kube_secret("team-b"))
    config = load_config(path)
    assert run(config, RunOptions(), services=fast_services()).ok

    @settings(max_examples=12, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(annotations=annotations, labels=labels, data=data)
    def one(annotations: dict, labels: dict, data: dict) -> None:
        tamper(em, "team-a", {"annotations": annotations, "labels": labels, "data": data})
        report = run(config, RunOptions(), services=fast_services())
        out = report.to_dict()
        json.dumps(out)  # the report is total: always printable
        (gen,) = out["generators"]
        by_ns = {t["namespace"]: t for t in gen["targets"]}
        assert by_ns["team-b"]["status"] in ("fresh", "written"), out
        assert by_ns["team-a"]["status"] in ("fresh", "written", "failed"), out

    one()


def test_create_once_holding_an_expired_token_is_expired_not_fresh(em: Emulator, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    es = ("apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: once}\nspec:\n"
          "  refreshInterval: '0'\n  target: {name: once}\n  dataFrom:\n    - sourceRef:\n        generatorRef:\n"
          "          apiVersion: generators.external-secrets.io/v1alpha1\n          kind: ACRAccessToken\n"
          "          name: gen\n")
    config = load_config(write_config(tmp_path, acr_generator(), es))
    assert run(config, RunOptions(), services=fast_services()).ok
    later = fast_services(now=lambda: datetime.now(UTC) + timedelta(days=2))
    report = run(config, RunOptions(), services=later)
    (target,) = report.to_dict()["generators"][0]["targets"]
    assert (target["status"], target["reason"]) == ("expired", "refresh-withheld")
    assert report.ok is False

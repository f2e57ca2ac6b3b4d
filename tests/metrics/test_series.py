"""The series model (pure): labels from the closed vocabulary only, what a run knows, what it must keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from acr_refresh import telemetry
from acr_refresh.cli import main
from acr_refresh.metrics import MetricsSettings, deliver, problem, where
from acr_refresh.metrics.series import CONSECUTIVE, EXPIRY, LAST_FAILURE, LAST_SUCCESS, Sample, from_report
from acr_refresh.report import GeneratorReport, Report, TargetReport

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def report(*targets: TargetReport, status: str = "ok") -> Report:
    gen = GeneratorReport("ns", "g", "r.azurecr.io", "refresh", status=status, targets=list(targets))
    return Report(started_at=NOW, duration_seconds=1.5, generators=[gen])


def secret(name: str, status: str, reason: str | None, **kw: object) -> TargetReport:
    return TargetReport("KubernetesSecret", status, cluster="default", namespace="ns", name=name, reason=reason,
                        **kw)  # type: ignore[arg-type]


def test_labels_are_complete_and_reasons_closed() -> None:
    series = from_report(report(secret("a", "failed", "free text: boom", was_read=True,
                                       held_expires_at=NOW + timedelta(hours=1))))
    (expiry,) = series.by_name(EXPIRY)
    assert [k for k, _ in expiry.labels] == ["kind", "cluster", "namespace", "name", "vault", "secret",
                                            "generator", "registry", "reason"]
    assert expiry.label("reason") == "" and expiry.label("vault") == ""
    assert expiry.value == (NOW + timedelta(hours=1)).timestamp()
    assert series.by_name(LAST_FAILURE)[0].value == 1 and not series.by_name(LAST_SUCCESS)


def test_what_a_run_does_not_know_is_left_to_the_last_known_value() -> None:
    written = secret("w", "written", "missing", expires_at=NOW + timedelta(hours=3))
    unread = secret("u", "not-attempted", "deadline")
    series = from_report(report(written, unread, status="not-attempted"))
    assert series.partial
    old = tuple(s for s in from_report(report(secret("u", "fresh", "valid", was_read=True,
                                                     held_expires_at=NOW))).samples)
    gone = Sample(EXPIRY, tuple((k, "x") for k in ("kind", "cluster", "namespace", "name")), 1.0)
    kept = series.merge([*old, gone])
    names = {(s.name, s.label("name")) for s in series.samples if s.label("name")}
    assert (EXPIRY, "u") in names and (LAST_FAILURE, "u") in names and (EXPIRY, "w") in names
    assert (EXPIRY, "x") in names  # a partial run keeps targets it never saw
    assert kept == 4


def test_consecutive_failures_go_on_from_the_last_value() -> None:
    series = from_report(report(secret("a", "failed", "mint-failed", was_read=True)))
    previous = [Sample(CONSECUTIVE, s.labels, 2.0) for s in series.by_name(CONSECUTIVE)]
    series.merge(previous)
    assert [s.value for s in series.by_name(CONSECUTIVE)] == [3.0]


def test_problems_and_switches() -> None:
    assert "--pushgateway-url" in (problem(MetricsSettings(backend="pushgateway"), {}) or "")
    assert "APPLICATIONINSIGHTS" in (problem(MetricsSettings(backend="azure-monitor"), {}) or "")
    assert problem(MetricsSettings(backend="otlp"), {}) is None
    assert where("https://user:pw@gw.example:9091/x?y=1") == "https://gw.example:9091"
    assert deliver(report(), MetricsSettings(), counts=telemetry.Counts()) == []  # off: nothing at all
    assert main(["run", "--config", "/nonexistent", "--metrics", "statsd"]) == 2
    assert main(["run", "--config", "/nonexistent"], environ={"ACR_REFRESH_METRICS": "statsd"}) == 2


def test_request_outcomes() -> None:
    assert [telemetry.outcome(s) for s in (200, 304, 404, 429, 503, None)] == [
        "ok", "ok", "client-error", "throttled", "server-error", "transport-error"]

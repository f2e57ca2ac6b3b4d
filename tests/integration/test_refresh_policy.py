"""refreshPolicy and syncWindows in real runs against the emulator, the job's clock driven by
``Services(now=...)``. Expected behaviour from ESO v2.9.0's ``shouldRefresh``, ``shouldRefreshPeriodic`` and
``isPeriodicRefreshAllowedByWindows`` (``pkg/controllers/externalsecret/externalsecret_controller.go``): a
missing Secret is written whatever the policy and windows; CreatedOnce never refreshes; OnChange only when the
definition changes; a periodic refresh only while the windows allow. Our addition: a token that lapses because
of it is warned about before, and is ``expired`` (exit 1) after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from acr_refresh.config import load_config
from acr_refresh.emulator import Emulator
from acr_refresh.run import RunOptions, run
from tests.conftest import acr_generator, fast_services, write_config


def external_secret(spec: str = "", name: str = "pull") -> str:
    return ("apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: " + name + "}\nspec:\n"
            f"{spec}  target: {{name: {name}}}\n  dataFrom:\n    - sourceRef:\n        generatorRef:\n"
            "          apiVersion: generators.external-secrets.io/v1alpha1\n          kind: ACRAccessToken\n"
            "          name: gen\n")


def at(hours: float):  # type: ignore[no-untyped-def]
    return fast_services(now=lambda: datetime.now(UTC) + timedelta(hours=hours))


def _target(report) -> dict:  # type: ignore[no-untyped-def]
    (target,) = report.to_dict()["generators"][0]["targets"]
    return target


def _password(em: Emulator, name: str = "pull") -> str:
    secret = em.get_object("secrets", "default", name)
    assert secret is not None
    return str(secret["data"]["password"])


def test_created_once_is_written_once_warned_before_it_lapses_and_expired_after(em: Emulator,
                                                                                tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, acr_generator(), external_secret("  refreshPolicy: CreatedOnce\n")))
    first = run(config, RunOptions(), services=at(0))
    assert first.ok and (_target(first)["status"], _target(first)["reason"]) == ("written", "missing")
    held = _password(em)
    # Past half its 3 h life a Periodic target would be refreshed; CreatedOnce leaves it, and says so in time.
    later = run(config, RunOptions(), services=at(2))
    assert later.ok and (_target(later)["status"], _target(later)["reason"]) == ("fresh", "created-once")
    [warning] = [w for w in later.warnings if "ExternalSecret/default/pull" in w]
    assert "will not be refreshed before the token it holds expires at" in warning
    assert "CreatedOnce" in warning and "min left" in warning
    # Once lapsed: expired, and the run fails (exit 1, HTTP 502).
    lapsed = run(config, RunOptions(), services=at(4))
    assert (_target(lapsed)["status"], _target(lapsed)["reason"]) == ("expired", "refresh-withheld")
    assert not lapsed.ok and "CreatedOnce" in (_target(lapsed)["error"] or "")
    assert any("EXPIRED at" in w for w in lapsed.warnings)
    assert _password(em) == held
    # A deleted Secret is created again (ESO: an invalid Secret is always written).
    services = fast_services()
    services.kube.get("default").delete_secret("default", "pull")
    services.close()
    again = run(config, RunOptions(), services=at(4))
    assert again.ok and _target(again)["status"] == "written"
    for report in (first, later, lapsed, again):
        assert held not in str(report.to_dict())


def test_on_change_rewrites_only_when_the_definition_changes(em: Emulator, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, acr_generator(), external_secret("  refreshPolicy: OnChange\n")))
    assert run(config, RunOptions(), services=at(0)).ok
    held = _password(em)
    later = run(config, RunOptions(), services=at(2))
    assert (_target(later)["status"], _target(later)["reason"]) == ("fresh", "unchanged") and later.ok
    assert any("OnChange" in w for w in later.warnings)
    assert _password(em) == held
    changed = load_config(write_config(tmp_path, acr_generator(), external_secret(
        "  refreshPolicy: OnChange\n  target:\n    name: pull\n    template:\n      metadata:\n"
        "        labels: {team: a}\n").replace("  target: {name: pull}\n", "", 1)))
    rewritten = run(changed, RunOptions(), services=at(2))
    assert (_target(rewritten)["status"], _target(rewritten)["reason"]) == ("written", "inputs-changed")
    assert _password(em) != held


def test_a_deny_window_withholds_a_periodic_refresh_but_not_a_missing_secret(em: Emulator, tmp_path: Path) -> None:
    # `@every 1m` for 1h: robfig's constant delay makes this window active at every instant (1m <= 1h + 1s).
    deny = "  syncWindows:\n    kind: deny\n    windows:\n      - {schedule: '@every 1m', duration: 1h}\n"
    config = load_config(write_config(tmp_path, acr_generator(), external_secret(deny)))
    first = run(config, RunOptions(), services=at(0))
    assert first.ok and _target(first)["status"] == "written"  # missing: written whatever the windows
    held = _password(em)
    assert (_target(run(config, RunOptions(), services=at(1))))["reason"] == "valid"
    due = run(config, RunOptions(), services=at(2))
    assert (_target(due)["status"], _target(due)["reason"]) == ("fresh", "refresh-withheld") and due.ok
    [warning] = [w for w in due.warnings if "ExternalSecret/default/pull" in w]
    assert "syncWindows (deny)" in warning and "expires at" in warning
    lapsed = run(config, RunOptions(), services=at(3.5))
    assert (_target(lapsed)["status"], _target(lapsed)["reason"]) == ("expired", "refresh-withheld")
    assert not lapsed.ok and _password(em) == held


def test_an_open_allow_window_lets_the_periodic_refresh_through(em: Emulator, tmp_path: Path) -> None:
    allow = "  syncWindows:\n    kind: allow\n    windows:\n      - {schedule: '@every 1m', duration: 1h}\n"
    config = load_config(write_config(tmp_path, acr_generator(), external_secret(allow)))
    assert run(config, RunOptions(), services=at(0)).ok
    due = run(config, RunOptions(), services=at(2))
    assert (_target(due)["status"], _target(due)["reason"]) == ("written", "half-life") and due.ok
    assert not [w for w in due.warnings if "ExternalSecret/default/pull" in w]


def test_an_allow_window_that_never_opens_warns_before_the_token_lapses(em: Emulator, tmp_path: Path) -> None:
    # 30 February never comes: robfig gives up after five years, so the window is never active.
    allow = "  syncWindows:\n    kind: allow\n    windows:\n      - {schedule: '0 0 30 2 *', duration: 8h}\n"
    config = load_config(write_config(tmp_path, acr_generator(), external_secret(allow)))
    assert run(config, RunOptions(), services=at(0)).ok
    fresh = run(config, RunOptions(), services=at(0.5))
    assert (_target(fresh)["status"], _target(fresh)["reason"]) == ("fresh", "valid")
    [warning] = [w for w in fresh.warnings if "ExternalSecret/default/pull" in w]
    assert "syncWindows (allow) withhold its refresh" in warning

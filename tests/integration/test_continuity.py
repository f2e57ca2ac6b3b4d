"""Continuity at a small size (the full day runs in ``make bench``): one clock drives the job and the
emulator, the schedule fires every 15 simulated minutes, faults and outages hit every service, and every
target is checked at every simulated minute."""

from __future__ import annotations

import pytest

from benchmarks.continuity import Outage, simulate


def test_short_outages_of_every_service_never_leave_a_consumer_with_an_expired_token() -> None:
    outages = [Outage("acr", 40, 30), Outage("kube", 110, 25), Outage("keyvault", 170, 30),
               Outage("entra", 230, 30)]
    result = simulate(hours=5, seed=11, outages=outages, transient_rate=0.3)
    assert result.runs == 21 and result.target_minutes == 301 * 6
    assert result.transient_faults > 0 and result.run_failures > 0  # the faults did bite
    assert result.violations == 0, result.violation_log[:5]
    assert result.seconds < 60  # simulated hours, real seconds: nothing sleeps


def test_an_outage_longer_than_the_margin_lapses_only_after_runs_reported_it() -> None:
    # A registry outage of 90 minutes outlasts an access token (75 min) but not a refresh token (3 h).
    result = simulate(hours=4, seed=3, outages=[Outage("acr", 31, 90)], transient_rate=0)
    assert result.violations > 0
    assert all(target.split(":")[1].startswith("access") for target in result.violation_targets)
    assert result.unwarned == 0, result.violation_log[:5]


@pytest.mark.parametrize("skew", [45, -45], ids=["servers-ahead", "servers-behind"])
def test_clock_skew_of_45_minutes_either_way_never_leaves_an_expired_token_nor_rewrites_every_run(skew: int) -> None:
    result = simulate(hours=5, seed=5, outages=[], transient_rate=0, server_skew_minutes=skew)
    assert result.violations == 0, result.violation_log[:5]
    # A target is rewritten when it nears half its life, not on every run (21 runs in 5 h).
    assert result.writes and max(result.writes.values()) <= result.runs // 2, dict(result.writes)

"""Anchoring a token's life to the job's clock (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from acr_refresh.freshness import MAX_LIFETIME, anchor

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_expiry_is_receipt_plus_the_stated_lifetime_whatever_the_issuers_clock() -> None:
    for skew in (-45, 0, 45):
        iat = NOW + timedelta(minutes=skew)
        got = anchor(iat, iat + 3 * H, NOW, "r")
        assert got is not None and (got.issued_at, got.expires_at) == (NOW, NOW + 3 * H)
        assert bool(got.warnings) == (skew != 0)


def test_skew_within_five_minutes_is_not_reported_and_behind_is_named() -> None:
    assert anchor(NOW - timedelta(minutes=4), NOW + H, NOW, "r").warnings == ()  # type: ignore[union-attr]
    (warning,) = anchor(NOW - timedelta(minutes=30), NOW + H, NOW, "r").warnings  # type: ignore[union-attr]
    assert "30 min behind" in warning


def test_without_iat_the_life_left_is_exp_minus_receipt() -> None:
    got = anchor(None, NOW + 2 * H, NOW, "r")
    assert got is not None and got.expires_at == NOW + 2 * H and got.warnings == ()


def test_lifetimes_are_capped_at_24_hours_and_negative_ones_are_expired() -> None:
    got = anchor(NOW, NOW + timedelta(days=36500), NOW, "r")
    assert got is not None and got.expires_at == NOW + MAX_LIFETIME and "treated as 1440 min" in got.warnings[0]
    got = anchor(NOW, NOW - H, NOW, "r")
    assert got is not None and got.expires_at == NOW and "expired" in got.warnings[0]
    assert anchor(NOW, None, NOW, "r") is None

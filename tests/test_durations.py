from datetime import timedelta

import pytest

from acr_refresh.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("90s", 90), ("30m", 1800), ("1h30m", 5400), ("1.5h", 5400), ("500ms", 0.5), ("2h0m10s", 7210)],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "1d", "-5m", "5 m", "m5", "1h-5m"])
def test_refuse(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_round_trips() -> None:
    for text in ("1h30m", "45s", "2h", "0s"):
        assert format_duration(parse_duration(text)) == text

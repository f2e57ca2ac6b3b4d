from datetime import timedelta

import pytest

from acr_refresh.durations import MAX_DURATION, format_duration, parse_duration


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


@pytest.mark.parametrize("text", ["2562047h47m16.854775807s", "2562047h", "9223372036854775807ns", "0.5us", "1.h",
                                  "1μs"])
def test_up_to_go_limit(text: str) -> None:
    assert parse_duration(text) <= MAX_DURATION


def test_go_limit_is_exact() -> None:
    assert parse_duration("2562047h47m16.854775807s") == MAX_DURATION
    assert parse_duration("1.5h") == timedelta(hours=1, minutes=30)
    assert parse_duration("0.000000001s") == timedelta(0)  # a nanosecond: below timedelta's resolution


@pytest.mark.parametrize("text", ["2562048h", "2562047h47m16.854775808s", "9223372036854775808ns",
                                  "9999999999999h", "99999999999999999999999999h", "1" + "0" * 400 + "h",
                                  "1" * 5000 + "s", "2000000h2000000h", "153722867281m"])
def test_too_large_is_a_value_error(text: str) -> None:
    # Before: OverflowError (from timedelta or float), which escaped every handler as a traceback.
    with pytest.raises(ValueError, match="too large; the largest Go duration is 2562047h47m16.854775807s"):
        parse_duration(text)


def test_message_quotes_a_long_input_shortened() -> None:
    with pytest.raises(ValueError) as info:
        parse_duration("9" * 5000 + "h")
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("text", [".h", ".", "h", "1.5", "1e3h"])
def test_refuse_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)

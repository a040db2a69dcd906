"""The one parser of durations and moments that the CLI, the API and the docs share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rolegate.durations import InvalidDuration, parse_duration, parse_until


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("P7D", timedelta(days=7)),
        ("p7d", timedelta(days=7)),
        ("PT90M", timedelta(minutes=90)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT0.5S", timedelta(milliseconds=500)),
        (" 7d ", timedelta(days=7)),
        ("90s", timedelta(seconds=90)),
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_iso_durations_and_shorthands(text: str, length: timedelta) -> None:
    assert parse_duration(text) == length


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("P0D", "not a positive duration"),
        ("0m", "not a positive duration"),
        ("PT0S", "not a positive duration"),
        ("-P1D", "is not an ISO 8601 duration"),
        ("P1M", "years or months"),
        ("P1Y", "years or months"),
        ("P", "is not an ISO 8601 duration"),
        ("7 d", "is not an ISO 8601 duration"),
        ("3600", "is not an ISO 8601 duration"),
        ("1d12h", "is not an ISO 8601 duration"),
        ("99999999999w", "too long"),
    ],
)
def test_what_is_no_positive_duration_is_refused(text: str, says: str) -> None:
    with pytest.raises(InvalidDuration, match=says):
        parse_duration(text)


def test_until_is_a_timestamp_or_a_duration() -> None:
    assert parse_until("2030-01-31T18:00:00Z") == datetime(2030, 1, 31, 18, tzinfo=UTC)
    assert parse_until("2030-01-31T18:00:00") == datetime(2030, 1, 31, 18)  # the service refuses
    assert parse_until("P7D") == parse_until("7d") == timedelta(days=7)
    with pytest.raises(InvalidDuration, match="neither an ISO 8601 timestamp"):
        parse_until("tomorrow")
    with pytest.raises(InvalidDuration, match="years or months"):
        parse_until("P1M")

"""Durations and moments as people write them, parsed one way for the CLI, the API and settings.

A duration is an ISO 8601 duration (``P7D``, ``PT90M``, ``P1W``, ``P1DT12H``) or a shorthand
(``90s``, ``90m``, ``12h``, ``7d``, ``2w``); a moment ("until when") is an ISO 8601 timestamp
or such a duration from now. Every duration given is positive: zero or a negative length is
refused, so is one that runs past the year 9999.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Final

from pydantic import PlainValidator, TypeAdapter, ValidationError

#: What the error messages and the docs offer as the accepted forms.
DURATION_FORMS: Final = "an ISO 8601 duration (P7D, PT90M, P1DT12H) or 90s, 90m, 12h, 7d, 2w"

# ISO 8601 durations are pydantic's (pydantic-core parses them, fractions and weeks included);
# only the shorthands, which no standard defines, are ours.
_ISO_DURATION: Final = TypeAdapter(timedelta)
_SHORTHAND: Final = re.compile(r"(\d+)([smhdw])")
_UNITS: Final = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
# Years and months have no fixed length (pydantic counts 365 and 30 days), and P1M (a month)
# is too easily written for PT1M (a minute): both are refused.
_CALENDAR_UNITS: Final = re.compile(r"P[^T]*[YM]", re.IGNORECASE)


class InvalidDuration(ValueError):
    """Text that is not a positive duration (or moment) in one of the accepted forms."""


def shorthand(text: str) -> timedelta | None:
    """``text`` as a shorthand (``90s``, ``90m``, ``12h``, ``7d``, ``2w``; ``0s`` too), or
    ``None`` when it is written some other way."""
    text = text.strip()
    match = _SHORTHAND.fullmatch(text)
    if match is None:
        return None
    amount, unit = match.groups()
    try:
        return int(amount) * _UNITS[unit]
    except OverflowError:
        raise InvalidDuration(f"{text!r} is too long a duration") from None


def parse_duration(text: str) -> timedelta:
    """A positive duration: ISO 8601 (``P7D``, ``PT90M``) or a shorthand (``7d``, ``90m``)."""
    text = text.strip()
    short = shorthand(text)
    if short is not None:
        duration = short
    elif text[:1].upper() == "P":
        if _CALENDAR_UNITS.match(text):
            raise InvalidDuration(
                f"{text!r} counts years or months, which have no fixed length: "
                "use days or weeks (P30D, P4W); PT1M is a minute"
            )
        try:
            duration = _ISO_DURATION.validate_python(text.upper())
        except ValidationError:
            raise InvalidDuration(f"{text!r} is not {DURATION_FORMS}") from None
    else:
        raise InvalidDuration(f"{text!r} is not {DURATION_FORMS}")
    if duration <= timedelta(0):
        raise InvalidDuration(f"{text!r} is not a positive duration")
    return duration


def parse_until(text: str) -> datetime | timedelta:
    """An ISO 8601 timestamp, or a duration (:func:`parse_duration`) from a now left to the
    caller (the service that owns the clock).

    A timestamp without a time zone is passed on as it is: the service owns the rule that
    rejects it, so every edge reports the same error.
    """
    text = text.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return parse_duration(text)
    except InvalidDuration:
        if text[:1].upper() == "P" or _SHORTHAND.fullmatch(text):
            raise  # meant as a duration: say what is wrong with it
        raise InvalidDuration(
            f"{text!r} is neither an ISO 8601 timestamp with a time zone "
            f"(2030-01-31T18:00:00+00:00) nor {DURATION_FORMS}"
        ) from None


def _duration_text(value: object) -> timedelta:
    if not isinstance(value, str):
        raise InvalidDuration(f"a duration is a string: {DURATION_FORMS}")
    return parse_duration(value)


#: A request field holding a duration, as text in the forms of :func:`parse_duration`.
DurationText = Annotated[timedelta, PlainValidator(_duration_text, json_schema_input_type=str)]

"""The schedule expressions of SageMaker monitoring schedules: ``cron(...)`` in AWS's six-field syntax, and ``NOW``.

AWS cron has six fields, ``minutes hours day-of-month month day-of-week year``, in UTC. Each field is ``*``, a
value, a range ``a-b``, a step ``a/n``, ``*/n`` or ``a-b/n``, or a comma list of those; months may be named
``JAN``-``DEC`` and weekdays ``SUN``-``SAT`` (``1`` is Sunday); one of day-of-month and day-of-week must be ``?``
(any). ``L``, ``W`` and ``#`` are not supported (they are refused as values). Model Monitor's own expressions
(``CronExpressionGenerator.hourly()`` = ``cron(0 * ? * * *)``, ``daily(h)`` = ``cron(0 h ? * * *)``,
``daily_every_x_hours(x, s)`` = ``cron(0 s/x ? * * *)``) are cases of it. ``NOW`` is a one-time schedule that
runs once, as soon as it is created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["NOW", "CronExpression", "parse_duration", "parse_schedule_expression"]

NOW = "NOW"
_MONTHS = {name: index for index, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_WEEKDAYS = {name: index for index, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
# (name, lowest, highest, names)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minutes", 0, 59, {}), ("hours", 0, 23, {}), ("day-of-month", 1, 31, {}), ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _WEEKDAYS), ("year", 1970, 2199, {}),
)
_SEARCH_DAYS = 366 * 8  # how far back a fire time is looked for (a year field can skip years)


def _value(text: str, field: tuple[str, int, int, dict[str, int]]) -> int:
    name, low, high, names = field
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a value of the {name} field")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} is out of the {name} field's range {low}-{high}")
    return value


def _parse_field(text: str, field: tuple[str, int, int, dict[str, int]]) -> frozenset[int] | None:
    """The values ``text`` allows, or None for ``?``."""
    name, low, high, _ = field
    if text == "?":
        if name not in ("day-of-month", "day-of-week"):
            raise ValueError(f"'?' is allowed only in day-of-month and day-of-week, not in {name}")
        return None
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{item!r}: the step must be a positive number")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = _value(start, field), _value(end, field)
            if first > last:
                raise ValueError(f"{item!r}: the range runs backwards")
        else:
            first = _value(base, field)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronExpression:
    """A parsed ``cron(...)`` expression; :meth:`latest_at_or_before` finds its fire times."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None
    years: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> CronExpression:
        """``cron(m h dom mon dow year)``; ValueError saying what is wrong otherwise."""
        match = re.fullmatch(r"\s*cron\((.*)\)\s*", expression)
        if match is None:
            raise ValueError(f"{expression!r} is not of the form cron(minutes hours day-of-month month day-of-week year)")
        parts = match.group(1).split()
        if len(parts) != 6:
            raise ValueError(f"{expression!r} has {len(parts)} fields; a cron expression has 6")
        fields = [_parse_field(part, field) for part, field in zip(parts, _FIELDS, strict=True)]
        minutes, hours, days, months, weekdays, years = fields
        if (days is None) == (weekdays is None):
            raise ValueError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
        assert minutes is not None and hours is not None and months is not None and years is not None
        return cls(expression.strip(), minutes, hours, days, months, weekdays, years)

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        if self.days is not None:
            return day.day in self.days
        assert self.weekdays is not None
        return (day.weekday() + 1) % 7 + 1 in self.weekdays  # Python's Monday=0 as AWS's MON=2

    def matches(self, when: datetime) -> bool:
        when = when.astimezone(UTC)
        return when.minute in self.minutes and when.hour in self.hours and self._day_matches(when)

    def latest_at_or_before(self, when: datetime) -> datetime | None:
        """The last fire time (whole minute, UTC) at or before ``when``; None if none in the last eight years."""
        when = when.astimezone(UTC).replace(second=0, microsecond=0)
        day = when.replace(hour=0, minute=0)
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours, reverse=True):
                    for minute in sorted(self.minutes, reverse=True):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate <= when:
                            return candidate
            day -= timedelta(days=1)
        return None


def parse_schedule_expression(expression: str) -> CronExpression | None:
    """A ScheduleExpression: the parsed cron expression, or None for ``NOW``; ValueError when neither."""
    if expression.strip() == NOW:
        return None
    return CronExpression.parse(expression)


_DURATION = re.compile(r"^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration as Model Monitor's offsets write them (``-PT1H``, ``-PT0H``, ``-P1D``, ``-PT30M``)."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in ("P", "-P", "PT", "-PT") or text.strip().endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as -PT1H")
    sign, days, hours, minutes, seconds = match.groups()
    try:
        delta = timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0),
                          seconds=int(seconds or 0))
    except OverflowError as exc:
        raise ValueError(f"{text!r} is too long a duration") from exc
    return -delta if sign else delta

"""Monitoring schedules' ScheduleExpression: AWS six-field cron and NOW (stepfn.local.sagemaker.cron)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from stepfn.local.sagemaker.cron import CronExpression, parse_duration, parse_schedule_expression
from stepfn.sagemaker.model_monitor import CronExpressionGenerator


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_model_monitor_generator_expressions() -> None:
    hourly = CronExpression.parse(CronExpressionGenerator.hourly())
    assert hourly.text == "cron(0 * ? * * *)"
    assert hourly.latest_at_or_before(at("2026-12-07 05:37:12")) == at("2026-12-07 05:00")
    assert hourly.latest_at_or_before(at("2026-12-07 05:00:00")) == at("2026-12-07 05:00")
    daily = CronExpression.parse(CronExpressionGenerator.daily(17))
    assert daily.latest_at_or_before(at("2026-12-07 16:59")) == at("2026-12-06 17:00")
    assert daily.latest_at_or_before(at("2026-12-07 17:10")) == at("2026-12-07 17:00")
    every_six = CronExpression.parse(CronExpressionGenerator.daily_every_x_hours(6, starting_hour=2))
    assert every_six.hours == frozenset({2, 8, 14, 20})
    assert every_six.latest_at_or_before(at("2026-12-07 01:00")) == at("2026-12-06 20:00")
    assert CronExpressionGenerator.now() == "NOW"
    assert parse_schedule_expression("NOW") is None


def test_fire_times_are_utc_whatever_the_clock_zone() -> None:
    hourly = CronExpression.parse("cron(0 * ? * * *)")
    paris = datetime(2026, 12, 7, 6, 30, tzinfo=timezone(timedelta(hours=1)))
    assert hourly.latest_at_or_before(paris) == at("2026-12-07 05:00")


def test_fields_lists_ranges_steps_and_names() -> None:
    expression = CronExpression.parse("cron(15,45 9-17/4 ? JAN-MAR MON-FRI 2026-2027)")
    assert expression.minutes == frozenset({15, 45})
    assert expression.hours == frozenset({9, 13, 17})
    assert expression.months == frozenset({1, 2, 3})
    assert expression.weekdays == frozenset({2, 3, 4, 5, 6})  # AWS: 1 is Sunday
    assert expression.matches(at("2026-01-05 13:45"))  # a Monday
    assert not expression.matches(at("2026-01-04 13:45"))  # a Sunday
    assert not expression.matches(at("2026-04-06 13:45"))
    assert expression.latest_at_or_before(at("2026-01-05 09:00")) == at("2026-01-02 17:45")  # the Friday before
    monthly = CronExpression.parse("cron(0 0 1 * ? *)")
    assert monthly.latest_at_or_before(at("2026-03-15 12:00")) == at("2026-03-01 00:00")
    assert CronExpression.parse("cron(*/20 * ? * * *)").minutes == frozenset({0, 20, 40})


@pytest.mark.parametrize("expression", [
    "rate(1 hour)",
    "cron(0 * * * *)",  # five fields
    "cron(0 * * * * *)",  # neither day field is ?
    "cron(0 * ? * ? *)",  # both are
    "cron(60 * ? * * *)",
    "cron(0 24 ? * * *)",
    "cron(0 * ? * 2#1 *)",
    "cron(0 * L * ? *)",
    "cron(0 5-2 ? * * *)",
    "cron(0 */0 ? * * *)",
    "cron(? * ? * * *)",
])
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule_expression(expression)


def test_a_year_field_in_the_past_never_fires_again() -> None:
    assert CronExpression.parse("cron(0 0 1 1 ? 2010)").latest_at_or_before(at("2026-01-01 00:00")) is None


def test_analysis_window_durations() -> None:
    assert parse_duration("-PT1H") == timedelta(hours=-1)
    assert parse_duration("-PT0H") == timedelta()
    assert parse_duration("-P1DT2H30M") == -timedelta(days=1, hours=2, minutes=30)
    assert parse_duration("PT15M") == timedelta(minutes=15)
    for text in ("1H", "-PT", "P", "-PT1X", "-P99999999999D"):
        with pytest.raises(ValueError):
            parse_duration(text)

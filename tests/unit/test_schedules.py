"""Schedules and bursts, pure: windows by the wall clock in their own zones (DST, overnight),
what is in force at an instant, and every way a declaration can be wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.fleet.config import ConfigFiles, parse
from bot.fleet.schedules import ActiveBurst, next_change, runners_at, windows
from bot.fleet.validation import validate

BUSINESS = {
    "name": "business-hours", "days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00",
    "timezone": "Europe/Berlin", "minRunners": 10,
}  # fmt: skip
NIGHT = {
    "name": "nightly",
    "days": ["fri"],
    "from": "22:00",
    "to": "06:00",
    "overnight": True,
    "timezone": "UTC",
    "minRunners": 3,
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ("2026-01-07T07:59:00+00:00", (10, 10, "schedule business-hours")),  # Wednesday 08:59 CET
        ("2026-01-07T06:59:00+00:00", (1, 5, "declared")),  # 07:59 CET: not yet open
        ("2026-01-07T07:00:00+00:00", (10, 10, "schedule business-hours")),  # 08:00 CET: opens
        ("2026-01-07T16:59:00+00:00", (10, 10, "schedule business-hours")),  # 17:59 CET
        ("2026-01-07T17:00:00+00:00", (1, 5, "declared")),  # 18:00 CET: closed
        ("2026-07-08T06:00:00+00:00", (10, 10, "schedule business-hours")),  # 08:00 CEST (UTC+2): summer time
        ("2026-07-08T05:59:00+00:00", (1, 5, "declared")),
        ("2026-01-10T10:00:00+00:00", (1, 5, "declared")),  # Saturday
    ],
)
def test_business_hours_follow_berlins_clock(instant: str, expected: tuple[int, int, str]) -> None:
    got = runners_at(1, 5, windows([BUSINESS]), None, at(instant))
    assert (got.min_runners, got.max_runners, got.source) == expected


def test_the_day_daylight_saving_starts_the_window_opens_at_8_local() -> None:
    # 2026-03-29 is a Sunday (DST starts at 02:00 CET); Monday 30 March opens at 06:00 UTC.
    schedule = windows([BUSINESS])
    assert runners_at(0, 5, schedule, None, at("2026-03-30T05:59:00+00:00")).source == "declared"
    opened = runners_at(0, 5, schedule, None, at("2026-03-30T06:00:00+00:00"))
    assert opened.source == "schedule business-hours" and opened.until == at("2026-03-30T16:00:00+00:00")


def test_overnight_window_crosses_midnight_into_the_next_day() -> None:
    schedule = windows([NIGHT])
    assert runners_at(0, 5, schedule, None, at("2026-01-09T21:59:00+00:00")).source == "declared"  # Friday
    assert runners_at(0, 5, schedule, None, at("2026-01-09T22:00:00+00:00")).min_runners == 3
    assert runners_at(0, 5, schedule, None, at("2026-01-10T05:59:00+00:00")).min_runners == 3  # Saturday morning
    assert runners_at(0, 5, schedule, None, at("2026-01-10T06:00:00+00:00")).source == "declared"
    assert runners_at(0, 5, schedule, None, at("2026-01-08T23:00:00+00:00")).source == "declared"  # Thursday night


def test_a_burst_wins_until_it_ends() -> None:
    schedule = windows([BUSINESS])
    now = at("2026-01-07T10:00:00+00:00")
    burst = ActiveBurst(20, 40, now + timedelta(hours=2))
    assert runners_at(1, 5, schedule, burst, now) == runners_at(1, 5, [], burst, now)
    during = runners_at(1, 5, schedule, burst, now)
    assert (during.min_runners, during.max_runners, during.source, during.until) == (20, 40, "burst", burst.until)
    after = runners_at(1, 5, schedule, burst, burst.until)
    assert after.source == "schedule business-hours"


def test_next_change_is_the_next_window_edge() -> None:
    friday_evening = at("2026-01-09T18:00:00+00:00")
    assert next_change(windows([BUSINESS]), friday_evening) == at("2026-01-12T07:00:00+00:00")  # Monday 08:00 CET
    assert runners_at(1, 5, windows([BUSINESS]), None, friday_evening).until == at("2026-01-12T07:00:00+00:00")


def entry(extra: str) -> str:
    return "repositories:\n  - name: app\n    org: acme\n    scaling: {minRunners: 1, maxRunners: 5}\n" + extra


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # YAML 1.1 reads an unquoted 18:00 as the number 1080 (sexagesimal); Helm reads a string.
        ("    schedules:\n      - {name: bh, days: [mon], from: \"08:00\", to: 18:00, timezone: UTC, minRunners: 2}\n",
         "to of schedule 'bh' must be written in quotes"),
        ("    schedules:\n      - {name: bh, days: [mon], from: \"08:00\", to: \"18:00\", timezone: Mars/Olympus, minRunners: 2}\n",
         "must be an IANA time zone"),
        ("    schedules:\n      - {name: bh, days: [mon], from: \"18:00\", to: \"08:00\", timezone: UTC, minRunners: 2}\n",
         "say overnight: true"),
        ("    schedules:\n      - {name: bh, days: [mon], from: \"08:00\", to: \"18:00\", overnight: true, timezone: UTC, minRunners: 2}\n",
         "is overnight, so 'to' must be earlier"),
        ("    schedules:\n      - {name: bh, days: [monday], from: \"08:00\", to: \"18:00\", timezone: UTC, minRunners: 2}\n",
         "days of schedule 'bh' must be a list of mon"),
        ("    schedules:\n      - {name: bh, days: [mon], from: \"08:00\", to: \"18:00\", timezone: UTC, minRunners: 11}\n",
         "minRunners 11 of schedule 'bh' is above the limit of 10"),
        ("    schedules:\n      - {name: a, days: [mon], from: \"08:00\", to: \"18:00\", timezone: UTC, minRunners: 2}\n"
         "      - {name: a, days: [tue], from: \"08:00\", to: \"18:00\", timezone: UTC, minRunners: 2}\n",
         "schedule name 'a' is used twice"),
        ("    schedules:\n      - {name: a, days: [mon], from: \"08:00\", to: \"18:00\", timezone: UTC, minRunners: 2}\n"
         "      - {name: b, days: [mon], from: \"09:00\", to: \"10:00\", timezone: Europe/Berlin, minRunners: 4}\n",
         "schedules 'a' and 'b' overlap with different values"),
        ("    schedules:\n      - {name: a, days: [mon], from: \"08:00\", to: \"18:00\", timezone: UTC}\n",
         "schedule 'a' needs minRunners"),
        ("    burst: {minRunners: 20, maxRunners: 40, maxDuration: 8h}\n", "minRunners 20 of burst is above the limit of 10"),
        ("    burst: {minRunners: 5, maxRunners: 40, maxDuration: forever}\n", "maxDuration of burst must be a duration"),
        ("    burst: {minRunners: 5, maxRunners: 4, maxDuration: 2h}\n", "minRunners (5) is above maxRunners (4) in burst"),
    ],
)  # fmt: skip
def test_declarations_that_are_refused(extra: str, expected: str, bundled: ConfigFiles) -> None:
    problems = [str(p) for p in validate(parse(entry(extra), bundled.base))]
    assert any(expected in p and p.startswith("values/repositories.yaml:") for p in problems), problems


def test_a_good_declaration_is_valid(bundled: ConfigFiles) -> None:
    good = (
        "    schedules:\n"
        "      - name: business-hours\n        days: [mon, tue, wed, thu, fri]\n"
        '        from: "08:00"\n        to: "18:00"\n        timezone: Europe/Berlin\n        minRunners: 10\n'
        '      - {name: nightly, days: [fri], from: "22:00", to: "06:00", overnight: true, timezone: UTC, minRunners: 3}\n'
        "    burst: {minRunners: 10, maxRunners: 40, maxDuration: 8h}\n"
    )
    assert [str(p) for p in validate(parse(entry(good), bundled.base))] == []

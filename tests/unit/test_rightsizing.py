"""What a right-sizing pass proposes for a set, and its pull request's text, from synthetic
traces with known answers (bot.commands.rightsizing)."""

from __future__ import annotations

from pathlib import Path

from bot.capacity.evidence import HOUR, Observed
from bot.commands import rightsizing
from bot.fleet.config import ConfigFiles, Effective, parse
from tests.support import jobtraces
from tests.support.golden import golden
from tests.support.jobtraces import DAY, MONDAY, daily, every, simulate

GOLDEN = Path(__file__).parent.parent / "golden" / "capacity"
REQUESTER = ("runners-bot (right-sizing)", "https://github.com/Matchpoint-AI/runners-config/blob/HEAD/docs/capacity.md")
MORNINGS = daily(range(5), lambda d: every(d + 9 * HOUR, d + 11 * HOUR, 100, 1200.0))  # 12 runners' work, 09–11


def _observed(arrivals: list[tuple[float, float]], high: int) -> Observed:
    rows = jobtraces.aggregate(jobtraces.tallies_of(simulate(arrivals, high)))
    return Observed(tuple(rows), int(MONDAY // HOUR), 168)


def _api(files: ConfigFiles) -> Effective:
    config = parse(files.repositories, files.base)
    [entry] = [e for e in config.entries if e.scale_set == "arc-api-runners"]  # min 1, max 10
    return config.effective(entry)


def _propose(files: ConfigFiles, arrivals: list[tuple[float, float]]) -> rightsizing.Proposal | None:
    config = parse(files.repositories, files.base)
    effective = _api(files)
    return rightsizing.propose(files, config.base_config, effective, _observed(arrivals, 10), REQUESTER)


def test_a_set_at_its_max_every_weekday_morning_is_proposed_a_higher_max_golden(bundled: ConfigFiles) -> None:
    proposal = _propose(bundled, MORNINGS)
    assert proposal is not None
    assert proposal.line == "/runners scale arc-api-runners min=1 max=15"
    assert "maxRunners: 15" in proposal.text
    assert proposal.pull.branch == "runners-bot/arc-api-runners"
    assert proposal.pull.title == "runners: scale project-beta-api (max 10 → 15)"
    golden(GOLDEN / "rightsizing-pull-request.md", proposal.pull.body)


def test_the_min_stays_when_the_warm_windows_it_leans_on_are_not_written(bundled: ConfigFiles) -> None:
    """The method would lower the min to 0 and warm the mornings by schedule windows; the
    pass writes min/max only, so the min stays and no reason speaks of lowering it."""
    proposal = _propose(bundled, MORNINGS)
    assert proposal is not None and "min=1 " in proposal.line
    assert "minRunners 1 → 0" not in proposal.pull.body
    assert "mon, tue, wed, thu, fri 09:00–12:00 UTC: minRunners 10" in proposal.pull.body, "listed, not written"


def test_a_lower_max_says_why(bundled: ConfigFiles) -> None:
    # One runner busy all week, two at once on Wednesday afternoon: a max of 10 is over twice the peak.
    flat = [*every(MONDAY, MONDAY + 7 * DAY, 3600, 3500.0), (MONDAY + 2 * DAY + 14 * HOUR, 600.0)]
    proposal = _propose(bundled, flat)
    assert proposal is not None and proposal.line == "/runners scale arc-api-runners min=1 max=3"
    assert "one and a half times the peak" in proposal.pull.body, proposal.pull.body


def test_a_proposal_stays_within_the_fleets_limits(bundled: ConfigFiles) -> None:
    tight = ConfigFiles(bundled.repositories, bundled.base.replace("    maxRunners: 50\n", "    maxRunners: 12\n", 1))
    proposal = _propose(tight, MORNINGS)
    assert proposal is not None and proposal.line.endswith(" max=12")
    assert "maxRunners capped at 12 by scaling.limits" in proposal.pull.body


def test_a_set_whose_evidence_fits_or_that_has_none_gets_no_proposal(bundled: ConfigFiles) -> None:
    fits = every(MONDAY, MONDAY + 7 * DAY, 3600, 3500.0) + [(MONDAY + 2 * DAY + 14 * HOUR, 600.0)] * 5
    assert _propose(bundled, fits) is None
    assert _propose(bundled, []) is None

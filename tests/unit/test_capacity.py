"""The capacity evidence's pure logic: which set a job belongs to, the wait histogram,
a window's evidence, the recommendation method on synthetic traces with known answers,
and prices."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot.capacity import cost, histogram
from bot.capacity.evidence import HOUR, Evidence, Hour, Observed, summarise, tally
from bot.capacity.jobs import Job, SetRef, closest_set, job_of, serving, unmatched_key
from bot.capacity.recommend import Recommendation, recommend
from bot.commands.evidence_text import status_section
from bot.commands.pipeline import Request, run
from bot.fleet.config import ConfigFiles, parse
from tests.support import jobtraces
from tests.support.golden import golden
from tests.support.jobtraces import DAY, MONDAY, daily, every, simulate
from tests.support.webhook_payloads import example

REPO_SET = SetRef("beta-api-runners", "https://github.com/matchpoint-ai/project-beta-api", pool=False)
POOL = SetRef("org-pool", "https://github.com/matchpoint-ai", pool=True)


def _job(labels: tuple[str, ...], url: str = "https://github.com/Matchpoint-AI/project-beta-api") -> Job:
    return Job(1, "queued", url, labels, 0.0, None, None, False)


def test_a_job_belongs_to_the_set_its_runs_on_names_exactly_on_its_repository_or_pool() -> None:
    assert serving(_job(("Beta-API-Runners",)), [REPO_SET, POOL]) == REPO_SET, "labels compare case-insensitively"
    assert serving(_job(("self-hosted", "beta-api-runners")), [REPO_SET]) is None, "ARC 0.12: the name alone"
    other_repo = _job(("beta-api-runners",), "https://github.com/matchpoint-ai/other")
    assert serving(other_repo, [REPO_SET]) is None, "a repository's set serves that repository only"
    assert serving(_job(("org-pool",), "https://github.com/matchpoint-ai/other"), [POOL]) == POOL
    assert serving(_job(("org-pool",), "https://github.example.com/matchpoint-ai/other"), [POOL]) is None, (
        "another server"
    )
    assert closest_set(("beta-api-runner",), [REPO_SET, POOL]) == "beta-api-runners"
    assert unmatched_key("https://github.com/O/r", ("b", "A")) == "https://github.com/o?a,b"


def test_github_examples_parse_into_jobs() -> None:
    for action in ("queued", "in_progress", "completed", "waiting"):
        payload = example("workflow_job", action)
        job = job_of(payload)
        assert job is not None and job.action == action
    done = job_of(example("workflow_job", "completed"))
    assert done is not None and done.wait == 60.0, "started_at − created_at of GitHub's example"


def test_percentiles_are_within_one_bucket_and_histograms_merge() -> None:
    waits = [3.0] * 90 + [100.0] * 5 + [700.0] * 5
    counts: dict[int, int] = {}
    for w in waits:
        counts = histogram.merge(counts, {histogram.bucket_of(w): 1})
    assert histogram.percentile(counts, 0.5) == 5.0
    assert histogram.percentile(counts, 0.95) == 120.0  # 100 s lies in (90, 120]
    assert histogram.percentile(counts, 1.0, ceiling=700.0) == 700.0
    assert histogram.percentile({}, 0.95) is None


def _hours(arrivals: list[tuple[float, float]], max_runners: int) -> list[Hour]:
    return jobtraces.aggregate(jobtraces.tallies_of(simulate(arrivals, max_runners)))


def _recommend(
    arrivals: list[tuple[float, float]], *, low: int, high: int, limits: tuple[int | None, int | None] = (None, None)
) -> tuple[Evidence, Recommendation]:
    rows = _hours(arrivals, high)
    first = int(MONDAY // HOUR)
    found = summarise(rows, 168, lambda _: (low, high), first)
    return found, recommend(
        rows, window_hours=168, min_runners=low, max_runners=high, hours_at_max=found.hours_at_max, limits=limits
    )


def test_weekday_peak_gets_a_weekday_window_and_nothing_warm_at_night() -> None:
    # Mon–Fri 09:00–18:00: a 30-minute job every 6 minutes, 5 runners busy; max 10 suffices.
    arrivals = daily(range(5), lambda d: every(d + 9 * HOUR, d + 18 * HOUR - 30 * 60, 360, 30 * 60))
    found, rec = _recommend(arrivals, low=0, high=10)
    assert found.hours_at_max == 0 and found.p95 is not None and found.p95 <= 30
    assert rec.min_runners == 0 and rec.max_runners == 10
    assert [(w.days, w.start, w.end) for w in rec.windows] == [((0, 1, 2, 3, 4), 9, 18)]
    assert rec.windows[0].min_runners == 5 and rec.material


def test_nightly_batch_warms_the_batch_hour_every_day() -> None:
    arrivals = daily(range(7), lambda d: [(d + 2 * HOUR, 50 * 60.0)] * 4)
    _, rec = _recommend(arrivals, low=0, high=5)
    assert [(w.days, w.start, w.end, w.min_runners) for w in rec.windows] == [(tuple(range(7)), 2, 3, 3)]


def test_flat_load_keeps_a_floor_and_no_windows() -> None:
    # A 30-minute job every 15 minutes, all week: two runners busy all the time.
    arrivals = every(MONDAY, MONDAY + 7 * DAY, 15 * 60, 30 * 60)
    found, rec = _recommend(arrivals, low=0, high=5)
    assert rec.min_runners == 2 and rec.windows == ()
    assert rec.max_runners == 3, "no wait at a max of 5 with 2 busy: one and a half times the peak"
    assert found.hours_at_max == 0 and any("busy in nearly every hour" in r for r in rec.reasons)


def test_a_burst_raises_the_max_and_warms_nothing() -> None:
    # Wednesday 14:00: 20 jobs of 20 minutes at once on a max of 5.
    arrivals = [(MONDAY + 2 * DAY + 14 * HOUR, 20 * 60.0)] * 20
    found, rec = _recommend(arrivals, low=0, high=5)
    assert found.hours_at_max >= 1 and found.wait_max > 40 * 60
    assert rec.windows == () and rec.min_runners == 0 and rec.max_runners > 5 and rec.material
    _, capped = _recommend(arrivals, low=0, high=5, limits=(10, 8))
    assert capped.max_runners == 8 and any("scaling.limits" in r for r in capped.reasons)


def test_waiting_at_the_max_every_weekday_morning_raises_the_max_with_the_p95_right() -> None:
    # Mon–Fri 09:00–12:00 a 20-minute job every 3 minutes needs ~7 runners; the max is 3.
    arrivals = daily(range(5), lambda d: every(d + 9 * HOUR, d + 12 * HOUR, 180, 20 * 60))
    runs = simulate(arrivals, 3)
    waits = sorted(r.started - r.created for r in runs)
    true_p95 = waits[int(0.95 * len(waits)) - 1]
    found, rec = _recommend(arrivals, low=0, high=3)
    assert found.p95 is not None and histogram.bucket_of(found.p95) - histogram.bucket_of(true_p95) in (0, 1)
    assert found.hours_at_max >= 15 and found.jobs == len(runs)
    assert rec.max_runners >= 7 and rec.reasons[0].startswith("jobs waited at the max")


def test_a_quiet_set_with_a_big_max_is_lowered_and_says_why() -> None:
    arrivals = daily(range(7), lambda d: [(d + 10 * HOUR, 600.0)])
    _, rec = _recommend(arrivals, low=0, high=20)
    assert rec.max_runners == 2 and "one and a half times the peak" in rec.reasons[0]


def test_tally_of_a_completed_job_counts_it_once_with_its_wait_and_busy_hours() -> None:
    job = Job(7, "completed", "u", ("s",), 0.0, 90.0, 90.0 + 2 * HOUR, True)
    t = tally(job)
    assert t is not None and t.jobs == 1 and t.waited == 1 and t.running == -1
    assert sum(seconds for _, seconds in t.busy) == 2 * HOUR and len(t.busy) == 3


BASE = """scaling:
  defaults: {minRunners: 0, maxRunners: 5, profile: small}
  profiles:
    small:
      cpu: {request: 500m, limit: "1"}
      memory: {request: 2Gi, limit: 2Gi}
      storage: 20Gi
pricing:
  vcpuHour: 0.04
  gibHour: 0.005
"""
REPOS = """repositories:
  - name: api
    org: acme
"""


def test_a_runner_hour_costs_its_requests() -> None:
    config = parse(REPOS, BASE)
    effective = config.effective(config.entries[0])
    prices = cost.prices(config.base_config)
    assert prices is not None
    assert abs(cost.runner_hour(prices, effective, config.base_config) - (0.5 * 0.04 + 2 * 0.005)) < 1e-9
    assert cost.prices(parse(REPOS, BASE.split("pricing", maxsplit=1)[0]).base_config) is None
    assert cost.quantity("1500Mi") == 1500 * 2**20 and cost.quantity("nonsense") == 0.0


GOLDEN = Path(__file__).parent.parent / "golden" / "capacity"


def _observed(arrivals: list[tuple[float, float]], high: int) -> Observed:
    return Observed(tuple(_hours(arrivals, high)), int(MONDAY // HOUR), 168, waiting=3)


def _reply(comment: str, files: ConfigFiles, evidence: dict[str, Observed], *, pull: bool = False) -> str:
    request = Request(comment, "octocat", "write", repo="Matchpoint-AI/project-beta-api", evidence=evidence)
    outcome = run(request, files)
    if pull:
        return "\n".join(p.body for p in outcome.pull_requests)
    return "\n".join(reply.text for reply in outcome.replies)


def test_recommend_replies_golden(bundled: ConfigFiles) -> None:
    # arc-api-runners (max 10) at its max every weekday morning: 12 runners' work 09–11.
    morning = daily(range(5), lambda d: every(d + 9 * HOUR, d + 11 * HOUR, 100, 1200.0))
    evidence = {"arc-api-runners": _observed(morning, 10)}
    golden(GOLDEN / "recommend.md", _reply("/runners recommend", bundled, evidence))
    golden(GOLDEN / "recommend-no-evidence.md", _reply("/runners recommend", bundled, {}))
    unpriced = ConfigFiles(bundled.repositories, bundled.base.split("\npricing:")[0] + "\n")
    config = parse(unpriced.repositories, unpriced.base)
    [entry] = [e for e in config.entries if e.scale_set == "arc-api-runners"]
    section = status_section(config.effective(entry), evidence["arc-api-runners"], config.base_config)
    golden(GOLDEN / "status-evidence-no-price.md", section)
    priced = parse(bundled.repositories, bundled.base)
    section = status_section(priced.effective(entry), evidence["arc-api-runners"], priced.base_config)
    golden(GOLDEN / "status-evidence.md", section)
    # The pull request the recommendation leads to shows what it costs, worst case and expected.
    body = _reply("/runners scale max=15", bundled, evidence, pull=True)
    assert "expected (the last window's demand): +" in body
    golden(GOLDEN / "pull-request-cost.md", body)


def test_why_jobs_wait_names_the_cause_the_bot_can_see(bundled: ConfigFiles) -> None:
    from bot.cluster.state import ClusterState
    from bot.reports.why_waiting import cause
    from tests.support.fakekube import event, listener, runner

    config = parse(bundled.repositories, bundled.base)
    [entry] = [e for e in config.entries if e.scale_set == "arc-api-runners"]
    api = config.effective(entry)  # max 10
    waiting = Observed((Hour(1, busy_seconds=10 * HOUR, peak=10),), 0, 2, waiting=2, oldest_wait=600.0)
    up = [listener("arc-api-runners")]
    assert cause(api, Observed((), 0, 1, waiting=2, oldest_wait=60.0), None) is None, "not waiting long yet"
    assert "at its max (10 runners)" in (cause(api, waiting, None) or ""), "from the evidence alone"
    full = ClusterState(None, None, up, [runner("arc-api-runners", api.namespace, n) for n in range(10)])
    assert "at its max" in (cause(api, waiting, full) or "")
    gone = event("arc-systems", "Pod", "l", "Error", "failed to get runner scale set: 404 Not Found")
    assert "gone on GitHub's side" in (cause(api, waiting, ClusterState(None, None, up, [], [gone])) or "")
    assert "no listener is running" in (cause(api, waiting, ClusterState(None, None, [], [])) or "")
    grouped = dataclasses.replace(api, runner_group="builders")
    assert "runner group `builders`" in (cause(grouped, waiting, ClusterState(None, None, up, [])) or "")


def test_status_says_why_jobs_wait_at_the_max(bundled: ConfigFiles) -> None:
    from bot.services.job_evidence import with_evidence

    config = parse(bundled.repositories, bundled.base)
    [entry] = [e for e in config.entries if e.scale_set == "arc-api-runners"]
    api = config.effective(entry)
    waiting = Observed((Hour(1, busy_seconds=10 * HOUR, peak=10),), 0, 2, waiting=2, oldest_wait=600.0)
    text = with_evidence({}, {"arc-api-runners": waiting}, [api], bundled, "offline")["arc-api-runners"]
    golden(GOLDEN / "status-why.md", text)


def test_status_without_job_evidence_builds_no_estimate_on_nothing(bundled: ConfigFiles) -> None:
    """Status showed a table of zeros with "336 idle runner-hours" and an estimated cost
    when no job had been seen: only the warm minimum's cost is known, and it is named as that."""
    nothing = Observed((), int(MONDAY // HOUR), 336)
    priced = parse(bundled.repositories, bundled.base)
    unpriced = parse(bundled.repositories, bundled.base.split("\npricing:")[0] + "\n")
    effective = {e.scale_set: e for e in map(priced.effective, priced.entries)}
    idle = status_section(effective["arc-beta-runners"], nothing, priced.base_config)  # min 0
    assert idle.startswith("No job evidence for this set yet: ") and idle.endswith("\n")
    assert "runner-hours" not in idle and "USD" not in idle and "| jobs |" not in idle
    warm = status_section(effective["arc-frontend-runners"], nothing, priced.base_config)  # min 1, 0.05 USD an hour
    assert "| jobs |" not in warm and "estimated cost" not in warm
    assert "is 336 runner-hours over the last 14 days, whether or not jobs run" in warm
    assert "What keeping it warm costs, not what jobs used: 16.80 USD." in warm
    [frontend] = [e for e in unpriced.entries if e.scale_set == "arc-frontend-runners"]
    bare = status_section(unpriced.effective(frontend), dataclasses.replace(nothing, waiting=2), unpriced.base_config)
    assert "not what jobs used: no price is configured" in bare and bare.endswith(
        "\n\n2 jobs waiting for a runner now.\n"
    )

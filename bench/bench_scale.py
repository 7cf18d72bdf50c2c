"""The app at fleet sizes users run: 1,000, 10,000 and 50,000 scale sets, side by side.

Every measurement runs the real app against the shared fakes, which enforce GitHub's
limits (no JSON contents above 1 MB, 65,536-character bodies, 100 a page) and serve
Kubernetes lists and watches; each table carries a baseline measured in the same run.

1. Comment → reply, every GitHub call taking 100 ms (warm: the installation token and
   the permission known): `help`, and `scale` with the pull request link. Baseline: the
   sequential chain the `scale` reply has to wait for, one call after another (`floor`).
2. A dashboard refresh: GitHub calls, Kubernetes requests and time, every Kubernetes
   request taking 5 ms. Baseline: the same sets read the old way, six requests per set
   (measured up to 1,000 sets; above, counted, not timed).
3. `runners-bot serve` through ten merges, each followed by a `scale` (a new head to
   parse each time): peak RSS (VmHWM) after each, against the chart's memory limit, and
   the worst `/healthz` wait, probed every 20 ms from another process while the commands
   run. Baseline: the same process before any command.
4. The rollout report's delay after the cluster turns healthy. Baseline: the polling it
   replaced (5 s, doubling to 30 s), against the same fake cluster in the same run.

Run: make bench-scale (BENCH_QUICK=1: 1,000 and 10,000 sets, three merges: a minute)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent

from bench.bench_api_calls import SECRET, TOKEN, Slow, settings_in  # noqa: E402
from bot.clients.kube import Kube, api_client  # noqa: E402
from bot.fleet.config import BASE_CONFIG_FILE, REPOSITORIES_FILE, ConfigFiles, parse  # noqa: E402
from bot.server import App, build  # noqa: E402
from tests.support.fakegithub import FakeGitHub  # noqa: E402
from tests.support.fakekube import FakeKube, application, listener, runner, runner_set  # noqa: E402
from tests.support.fleets import ORGS, fleet  # noqa: E402
from tests.support.servers import BotProcess, ThreadedServer  # noqa: E402
from tests.support.webhook_payloads import comment_payload, delivery, pull_closed_payload  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
SIZES = (1_000, 10_000) if QUICK else (1_000, 10_000, 50_000)
MERGES = 3 if QUICK else 10
IDLE_PROBE = 10.0  # seconds of probing before any command: the baseline
CHART_LIMIT_MIB = 512  # charts/runners-bot/values.yaml: resources.limits.memory
CONFIG = "Matchpoint-AI/runners-config"
TEAM = "Matchpoint-Labs/service-00001"  # the thread: the repository of the set the commands change
CALL = 0.1  # seconds each GitHub call takes
KUBE_CALL = 0.005  # seconds each Kubernetes request takes
# The dashboard's cluster does not change: the fake compares it with what it stores only once
# (its comparison of every object each 50 ms tick held the GIL the app was measured on).
TICK_CONSTANT = 3600.0
OLD_MEASURED_UP_TO = 1_000
OLD_SAMPLE = 200
FLOOR_CHAIN = 5


def keys() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, public.decode()


def world(key: tuple[str, str], size: int) -> tuple[FakeGitHub, ConfigFiles]:
    bundled = ConfigFiles.read(ROOT)
    files = ConfigFiles(fleet(size, bundled.repositories), bundled.base)
    fake = FakeGitHub(1, key[1])
    fake.add_repo(CONFIG, {REPOSITORIES_FILE: files.repositories, BASE_CONFIG_FILE: files.base}, {"admin": "admin"})
    fake.add_repo(TEAM, {"README.md": "x"}, {"octocat": "write", "admin": "admin"})
    fake.add_repo("Matchpoint-AI/project-beta-api", {"README.md": "x"}, {"admin": "admin"})
    return fake, files


@contextlib.asynccontextmanager
async def running(app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app.asgi)
    async with (
        app.starlette.router.lifespan_context(app.starlette),
        httpx.AsyncClient(transport=transport, base_url="http://bot") as client,
    ):
        yield client


def here(text: str, user: str, comment_id: int) -> dict[str, Any]:
    """A comment on issue 7 of the set's own repository."""
    return comment_payload(text, user=user, comment_id=comment_id, repo=TEAM)


async def say(client: httpx.AsyncClient, app: App, text: str, user: str, comment_id: int) -> None:
    body, headers = delivery(SECRET, "issue_comment", here(text, user, comment_id))
    await client.post("/api/github/webhooks", content=body, headers=headers)
    await app.dispatcher.idle()


# --- 1. comment → reply with the pull request link ---------------------------------------


async def reply_latency(key: tuple[str, str], size: int) -> tuple[float, float, list[str]]:
    """Seconds from a warm `help` comment to its reply and from a warm `scale` to its reply
    with the link; the calls before the `scale` reply."""
    fake, _ = world(key, size)
    with tempfile.TemporaryDirectory() as tmp:
        app = build(settings_in(tmp, key), transport=Slow(httpx.ASGITransport(app=fake.app), CALL, False))
        async with running(app) as client:
            await say(client, app, "/runners status service-00001", "admin", 1)  # warm: token, permission
            start = time.perf_counter()
            await say(client, app, "/runners help", "admin", 5)
            helped = time.perf_counter() - start
            assert len(fake.thread_comments(TEAM, 7)[-1]["body"]) <= 65_536
            first = len(fake.calls)
            body, headers = delivery(
                SECRET,
                "issue_comment",
                here("/runners scale service-00001 max=13", "admin", 2),
            )
            start = time.perf_counter()
            await client.post("/api/github/webhooks", content=body, headers=headers)
            while not any("/pull/" in c["body"] for c in fake.thread_comments(TEAM, 7)):
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - start
            before_reply = [f"{c.method} {c.template}" for c in fake.calls[first:] if c.template != TOKEN]
            await app.dispatcher.idle()
    assert not fake.violations, fake.violations
    return helped, elapsed, before_reply


# --- 2. a dashboard refresh -------------------------------------------------------------


def cluster_of(files: ConfigFiles) -> Callable[[int], dict[str, Any]]:
    config = parse(files.repositories, files.base)
    sets = [config.effective(e) for e in config.entries]
    state = {
        "applications": [application(s.scale_set, sync="Synced", revision="a" * 40, health="Healthy") for s in sets],
        "runner_sets": [runner_set(s.scale_set, s.namespace, low=1, high=5, current=1) for s in sets],
        "listeners": [listener(s.scale_set) for s in sets],
        "runners": [runner(s.scale_set, s.namespace, 1) for s in sets],
    }
    return lambda _look: state


async def dashboard_refresh(key: tuple[str, str], size: int) -> tuple[int, int, int, float, int, float | None]:
    """GitHub calls of the first refresh and of one with nothing changed, Kubernetes
    requests and seconds of the first; and the old way's requests and seconds (None when
    not timed)."""
    fake, files = world(key, size)
    kube = FakeKube(scenario=cluster_of(files), delay=KUBE_CALL, tick=TICK_CONSTANT)
    with ThreadedServer(kube.app) as server, tempfile.TemporaryDirectory() as tmp:
        settings = dataclasses.replace(
            settings_in(tmp, key), dashboard="Runner fleet", kube_enabled=True, kube_api=server.url
        )
        app = build(settings, transport=httpx.ASGITransport(app=fake.app))
        async with running(app):
            await app.dashboard.stop()
            await app.watcher.stop()  # the refresh alone: no watch in the way
            app.services.latest.note(1, files)
            calls, requests = len(fake.calls), len(kube.requests)
            start = time.perf_counter()
            await app.dashboard.update()
            elapsed = time.perf_counter() - start
            github, cluster = len(fake.calls) - calls, len(kube.requests) - requests
            app.dashboard.min_gap = 0
            calls = len(fake.calls)
            await app.dashboard.update()  # nothing changed: no edit
            again = len(fake.calls) - calls
        old_requests, old_time = 6 * size, None
        if size <= OLD_MEASURED_UP_TO:
            # The old way is timed on its first OLD_SAMPLE sets and scaled to the fleet:
            # six requests per set, each as long as the next (the whole of it took minutes).
            reader = Kube(api_client(server.url), "argocd", "arc-systems")
            config = parse(files.repositories, files.base)
            requests = len(kube.requests)
            start = time.perf_counter()
            for entry in config.entries[:OLD_SAMPLE]:
                effective = config.effective(entry)
                reader.read(effective.scale_set, effective.namespace)
            old_time = (time.perf_counter() - start) * size / min(size, OLD_SAMPLE)
            old_requests = (len(kube.requests) - requests) * size // min(size, OLD_SAMPLE)
        kube.closing = True
    return github, again, cluster, elapsed, old_requests, old_time


# --- 3. serve through ten merges ------------------------------------------------------------


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])  # kB
    return 0


# Another process, so that the fake GitHub's work in this one never delays a probe.
PROBE = """
import sys, time, httpx
url, stop, worst, count = sys.argv[1], sys.argv[2], 0.0, 0
import os
with httpx.Client(timeout=30) as client:
    while not os.path.exists(stop):
        start = time.perf_counter()
        client.get(url)
        worst, count = max(worst, time.perf_counter() - start), count + 1
        time.sleep(0.02)
print(worst, count)
"""


@dataclasses.dataclass
class Served:
    idle: int  # kB
    peaks: list[int]  # kB, after each merge and its scale
    worst_healthz: float  # seconds
    probes: int
    worst_idle: float  # seconds, the same probe before any command (the machine's own noise)


def serve_merges(key: tuple[str, str], size: int, merges: int) -> Served:
    """`serve` answering a `scale`, whose pull request is merged, ``merges`` times."""
    fake, _ = world(key, size)
    with ThreadedServer(fake.app) as github, tempfile.TemporaryDirectory() as tmp:
        env = {
            "GITHUB_WEBHOOK_SECRET": SECRET, "GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY": key[0],
            "GITHUB_API_URL": github.url, "RUNNERS_CONFIG_REPO": CONFIG, "RUNNERS_BOT_STATE": f"{tmp}/state.sqlite3",
            "RUNNERS_BOT_RECOVERY_INTERVAL": "0", "RUNNERS_BOT_KUBE": "off", "RUNNERS_BOT_DASHBOARD": "off",
        }  # fmt: skip
        bot = BotProcess(env, Path(tmp)).start()
        stop = Path(tmp) / "stop"
        worst_idle = probe_for(bot.url, Path(tmp) / "idle", IDLE_PROBE)
        probe = subprocess.Popen(
            [sys.executable, "-c", PROBE, f"{bot.url}/healthz", str(stop)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert bot.process is not None
            idle, peaks = peak_rss(bot.process.pid), []
            for n in range(merges):
                links = sum("/pull/" in c["body"] for c in fake.thread_comments(TEAM, 7))
                post(bot.url, "issue_comment", here(f"/runners scale service-00001 max={13 + n}", "admin", 100 + n))
                deadline = time.monotonic() + 300
                while sum("/pull/" in c["body"] for c in fake.thread_comments(TEAM, 7)) == links:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no reply from serve: {bot.log.read_text()[-2000:]}")
                    time.sleep(0.05)
                number = max(p["number"] for p in fake.pulls[CONFIG.lower()] if p["state"] == "open")
                pull = fake.merge(CONFIG, number)
                payload = pull_closed_payload(
                    CONFIG, number, pull["head"]["ref"], merged=True, merge_sha=pull["merge_commit_sha"]
                )
                post(bot.url, "pull_request", payload)
                peaks.append(peak_rss(bot.process.pid))
            stop.touch()
            out, _ = probe.communicate(timeout=60)
            worst, probes = out.split()
            assert not fake.violations, fake.violations
            return Served(idle, peaks, float(worst), int(probes), worst_idle)
        finally:
            stop.touch()
            probe.wait(timeout=60)
            bot.stop()


def probe_for(url: str, stop: Path, seconds: float) -> float:
    """The worst /healthz wait over ``seconds`` with nothing else asked of serve."""
    probe = subprocess.Popen(
        [sys.executable, "-c", PROBE, f"{url}/healthz", str(stop)], stdout=subprocess.PIPE, text=True
    )
    time.sleep(seconds)
    stop.touch()
    out, _ = probe.communicate(timeout=60)
    return float(out.split()[0])


def post(url: str, event: str, payload: dict[str, Any]) -> None:
    body, headers = delivery(SECRET, event, payload)
    httpx.post(f"{url}/api/github/webhooks", content=body, headers=headers, timeout=30)


# --- 4. the rollout report's delay ---------------------------------------------------------

QUIET = 20.0  # seconds the rollout waits before the cluster turns healthy


def rollout_cluster(healthy_after: list[float], sha: str) -> Callable[[int], dict[str, Any]]:
    name, namespace = "service-00001-runners", "arc-service-00001-runners"

    def state(_look: int) -> dict[str, Any]:
        ready = bool(healthy_after) and time.monotonic() >= healthy_after[0]
        return {
            "application": application(
                name, sync="Synced" if ready else "OutOfSync", revision=sha if ready else "0" * 40,
                health="Healthy" if ready else "Progressing",
            ),
            "runner_set": runner_set(name, namespace, low=1, high=13 if ready else 5, current=1),
            "listeners": [listener(name, of=runner_set(name, namespace, low=1, high=13 if ready else 5))],
            "runners": [runner(name, namespace, 1)],
        }  # fmt: skip

    return state


async def rollout_delay(key: tuple[str, str]) -> tuple[float, float]:
    """Seconds from the cluster turning healthy to the report saying live: the watch, and
    the old polling (5 s doubling to 30 s, the judgement the same) in the same run."""
    fake, _ = world(key, 50)
    healthy_at: list[float] = []
    kube = FakeKube(tick=0.05)
    with ThreadedServer(kube.app) as server, tempfile.TemporaryDirectory() as tmp:
        settings = dataclasses.replace(
            settings_in(tmp, key),
            kube_enabled=True,
            kube_api=server.url,
            rollout_timeout=QUIET + 60,
            rollout_settle=0.0,  # the delay measured is the watch's, not the listener's settle time
        )
        app = build(settings, transport=httpx.ASGITransport(app=fake.app))
        async with running(app) as client:
            await say(client, app, "/runners scale service-00001 max=13", "admin", 4)
            pull = fake.merge(CONFIG, 100)
            kube.scenario = rollout_cluster(healthy_at, pull["merge_commit_sha"])
            payload = pull_closed_payload(
                CONFIG, 100, "runners-bot/service-00001-runners", merged=True, merge_sha=pull["merge_commit_sha"]
            )
            body, headers = delivery(SECRET, "pull_request", payload)
            await client.post("/api/github/webhooks", content=body, headers=headers)
            await app.dispatcher.idle()
            started = time.monotonic()
            healthy_at.append(started + QUIET)
            old = asyncio.create_task(old_polling(server.url, healthy_at, started))
            while not any("Live" in c["body"] and "🚀" in c["body"] for c in fake.thread_comments(CONFIG, 100)):
                await asyncio.sleep(0.01)
            watched = time.monotonic() - healthy_at[0]
            polled = await old
            await app.watcher.stop()
        kube.closing = True
    return watched, polled


async def old_polling(url: str, healthy_at: list[float], started: float) -> float:
    """The replaced loop: look, then wait 5 s doubling to 30 s while nothing changes."""
    reader = Kube(api_client(url), "argocd", "arc-systems")
    wait = 5.0
    while True:
        state = await reader.aread("service-00001-runners", "arc-service-00001-runners")
        app = state.application or {}
        if (app.get("status") or {}).get("health", {}).get("status") == "Healthy":
            return time.monotonic() - healthy_at[0]
        await asyncio.sleep(max(0.0, min(wait, started + 120 - time.monotonic())))
        wait = min(wait * 2, 30.0)


async def main() -> int:
    key = keys()
    print("1. comment → reply, every GitHub call 100 ms (warm)\n")
    header = f"{'entries':>8} {'file':>8} {'help':>8} {'calls':>6} {'scale':>8} {'floor':>8} {'× floor':>8}"
    print(header + "\n" + "-" * len(header))
    chains = {}
    for size in SIZES:
        helped, elapsed, calls = await reply_latency(key, size)
        text = fleet(size, ConfigFiles.read(ROOT).repositories)
        chains[size] = calls
        print(
            f"{size:>8,} {len(text.encode()) / 2**20:>6.2f}MB {helped * 1e3:>6.0f}ms {len(calls):>6}"
            f" {elapsed * 1e3:>6.0f}ms {FLOOR_CHAIN * CALL * 1e3:>6.0f}ms {elapsed / (FLOOR_CHAIN * CALL):>7.2f}x"
        )
    print(f"\n   floor: {FLOOR_CHAIN} calls one after another (read → ref → commit → pull request → reply)")
    print("   sequential chain as built: [GraphQL read ∥ 👀 ∥ permission] → ref → commit → pull request → reply;")
    print("   the label after the reply. The comment is on the changed set's own repository, the common case.")
    print(f"   calls before the reply ({len(chains[SIZES[-1]])}): " + ", ".join(chains[SIZES[-1]]))

    print("\n2. a dashboard refresh (Kubernetes requests take 5 ms each)\n")
    header = (
        f"{'entries':>8} {'GitHub':>7} {'again':>6} {'k8s req':>8} {'time':>8} {'old req':>8} {'old time':>9}"
        f" {'speed-up':>9}"
    )
    print(header + "\n" + "-" * len(header))
    for size in SIZES:
        github, again, requests, elapsed, old_requests, old_time = await dashboard_refresh(key, size)
        timed = f"{old_time:>8.2f}s" if old_time is not None else f"{'(counted)':>9}"
        ratio = f"{old_time / elapsed:>8.1f}x" if old_time is not None else f"{'—':>9}"
        print(f"{size:>8,} {github:>7} {again:>6} {requests:>8} {elapsed:>7.2f}s {old_requests:>8,} {timed} {ratio}")
    print("   GitHub: calls of the first refresh (issue and table pages); again: a refresh with nothing changed")
    print(f"   old time: the first {OLD_SAMPLE} sets timed, scaled to the fleet")

    print(f"\n3. `runners-bot serve` through {MERGES} merges, each followed by a scale\n")
    header = (
        f"{'entries':>8} {'idle':>8} {'1st':>8} {'peak':>8} {'× idle':>7} {'limit':>7} {'per 1k':>8}"
        f" {'/healthz worst':>15} {'idle worst':>11} {'probes':>7}"
    )
    print(header + "\n" + "-" * len(header))
    for size in SIZES:
        served = await asyncio.to_thread(serve_merges, key, size, MERGES)
        peak = max(served.peaks)
        per_thousand = (peak - served.idle) / 1024 / (size / 1000)
        print(
            f"{size:>8,} {served.idle / 1024:>6.0f}MB {served.peaks[0] / 1024:>6.0f}MB {peak / 1024:>6.0f}MB"
            f" {peak / served.idle:>6.2f}x {peak / 1024 / CHART_LIMIT_MIB:>6.0%} {per_thousand:>6.1f}MB"
            f" {served.worst_healthz * 1e3:>13.0f}ms {served.worst_idle * 1e3:>9.0f}ms {served.probes:>7}"
        )
        print("         peak after each merge (MB): " + " ".join(f"{p / 1024:.0f}" for p in served.peaks))
    print(f"   limit: the share of the chart's {CHART_LIMIT_MIB} MiB; per 1k: (peak − idle) per 1,000 sets")
    print(
        f"   /healthz worst: probed every 20 ms while the commands and merges run; idle worst: {IDLE_PROBE:.0f} s before"
    )

    print(f"\n4. the rollout report after the cluster turns healthy ({QUIET:.0f} s after the merge)\n")
    watched, polled = await rollout_delay(key)
    print(f"   watch (as built):              {watched:>6.2f} s")
    print(f"   baseline, polling 5 s → 30 s:  {polled:>6.2f} s   ({polled / max(watched, 1e-3):.0f}x later)")
    print(f"\n   organisations in the generated fleets: {', '.join(ORGS)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

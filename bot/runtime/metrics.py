"""Prometheus metrics of the app, in one registry served at ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bot.commands.registry import COMMANDS, Registry


@dataclass
class Metrics:
    """Every metric the app exports; one instance per server (tests make their own)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    declared: Registry = COMMANDS  # the commands: the commands metric's verb label

    def __post_init__(self) -> None:
        r = self.registry
        self.deliveries = Counter(
            "runners_bot_deliveries", "Webhook deliveries by event and outcome", ["event", "outcome"], registry=r
        )
        self.signature_failures = Counter(
            "runners_bot_signature_failures", "Deliveries refused for a missing or wrong signature", registry=r
        )
        self.queue_depth = Gauge("runners_bot_queue_depth", "Accepted deliveries waiting to be processed", registry=r)
        self.command_latency = Histogram(
            "runners_bot_command_latency_seconds",
            "Time from accepting a command delivery to its last reply",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.commands = Counter(
            "runners_bot_commands", "Commands handled by verb and outcome", ["verb", "outcome"], registry=r
        )
        for verb in self.declared.labels:  # every series from the start, at 0: rates need no first event
            for outcome in ("ok", "refused"):
                self.commands.labels(verb, outcome)
        self.github_calls = Counter(
            "runners_bot_github_api_calls",
            "GitHub API calls by endpoint and status",
            ["method", "endpoint", "status"],
            registry=r,
        )
        self.rate_limit_remaining = Gauge(
            "runners_bot_github_rate_limit_remaining", "X-RateLimit-Remaining of the last GitHub response", registry=r
        )
        self.redeliveries = Counter("runners_bot_redeliveries", "Failed deliveries asked to be redelivered", registry=r)
        self.rate_limited = Counter(
            "runners_bot_rate_limited",
            "Command comments over their author's reply budget: one notice, then silence",
            ["outcome"],
            registry=r,
        )
        self.purged = Counter(
            "runners_bot_purged", "State removed after the retention period, by kind", ["kind"], registry=r
        )
        self.effective_runners = Gauge(
            "runners_bot_effective_runners",
            "minRunners/maxRunners a scale set run by the clock should have now (schedule, burst or declared)",
            ["scale_set", "bound"],
            registry=r,
        )
        self.scale_writes = Counter(
            "runners_bot_scale_writes", "Writes of minRunners/maxRunners by outcome", ["outcome"], registry=r
        )
        # Fleet totals, not a series per set (3 per set made /metrics 4 MB at 20,000 sets):
        # the dashboard names the sets.
        self.runners = Gauge(
            "runners_bot_runners", "Runner pods of the fleet by phase, at the dashboard's last look",
            ["phase"], registry=r,
        )  # fmt: skip
        self.listeners = Gauge(
            "runners_bot_listeners",
            "Scale sets whose listener runs (up) or not (down), at the dashboard's last look",
            ["state"],
            registry=r,
        )
        self.stored_deliveries = Gauge(
            "runners_bot_stored_deliveries", "Deliveries kept in the state database", registry=r
        )
        self.leader = Gauge(
            "runners_bot_leader",
            "1 on the replica that runs the singletons (recovery, rollout watches, schedules, dashboard)",
            registry=r,
        )
        self.claims_lost = Counter(
            "runners_bot_claims_lost",
            "Deliveries this replica stopped working on because its claim ran out and another took it",
            registry=r,
        )

    def count_command(self, line: str, *, ok: bool) -> None:
        """One answered command line (anything that names no declared command: ``other``)."""
        self.commands.labels(self.declared.label(line), "ok" if ok else "refused").inc()

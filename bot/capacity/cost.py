"""What runners cost, from the prices in ``base-config.yaml``. Pure.

``pricing`` holds a price per vCPU-hour and per GiB-hour of memory (``vcpuHour``,
``gibHour``), or a price per runner-hour for a profile (``profiles.<name>``, which wins),
and a ``currency`` (default USD). A runner costs what its pod requests: the runner
container's profile and, with Docker-in-Docker, the daemon's sidecar. A month is 730
hours. Without ``pricing`` every figure is None and the texts say no price is configured.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.fleet.config import BaseConfig, Effective

HOURS_PER_MONTH = 730
_QUANTITY = re.compile(r"([0-9.]+)([a-zA-Z]*)")
_UNITS = {"": 1.0, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}  # fmt: skip


@dataclass(frozen=True)
class Prices:
    vcpu_hour: float
    gib_hour: float
    profiles: Mapping[str, float]
    currency: str = "USD"


def prices(base: BaseConfig) -> Prices | None:
    """``pricing`` of base-config.yaml; None when it sets no price."""
    raw = base.raw.get("pricing")
    if not isinstance(raw, Mapping):
        return None
    profiles = raw.get("profiles")
    per_profile = (
        {str(k): float(v) for k, v in (profiles or {}).items() if _number(v)} if isinstance(profiles, Mapping) else {}
    )
    vcpu, gib = raw.get("vcpuHour"), raw.get("gibHour")
    if not per_profile and not (_number(vcpu) or _number(gib)):
        return None
    return Prices(
        float(vcpu) if isinstance(vcpu, int | float) and _number(vcpu) else 0.0,
        float(gib) if isinstance(gib, int | float) and _number(gib) else 0.0,
        per_profile,
        str(raw.get("currency") or "USD"),
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def quantity(text: str) -> float:
    """A Kubernetes quantity ("500m", "2", "4Gi") as a number (0 when unreadable)."""
    found = _QUANTITY.fullmatch(str(text).strip())
    if not found or found.group(2) not in _UNITS:
        return 0.0
    try:
        return float(found.group(1)) * _UNITS[found.group(2)]
    except ValueError:
        return 0.0


def runner_hour(price: Prices, effective: Effective, base: BaseConfig) -> float:
    """What one runner of ``effective`` costs an hour."""
    if effective.profile in price.profiles:
        return price.profiles[effective.profile]
    cpu = memory = 0.0
    if effective.resources is not None:
        cpu, memory = quantity(effective.resources.cpu_request), quantity(effective.resources.memory_request)
    if effective.dind_profile is not None:
        sidecar: Mapping[str, Any] = base.dind_profiles.get(effective.dind_profile) or {}
        cpu += quantity(str((sidecar.get("cpu") or {}).get("request", "")))
        memory += quantity(str((sidecar.get("memory") or {}).get("request", "")))
    return cpu * price.vcpu_hour + memory / 2**30 * price.gib_hour


@dataclass(frozen=True)
class Change:
    """A capacity change's monthly cost: the worst case (every runner up to the max, all
    month) before and after, and the expected (the window's demand) before and after."""

    currency: str
    worst_before: float
    worst_after: float
    expected_before: float | None
    expected_after: float | None

    @property
    def worst_delta(self) -> float:
        return self.worst_after - self.worst_before

    @property
    def expected_delta(self) -> float | None:
        if self.expected_before is None or self.expected_after is None:
            return None
        return self.expected_after - self.expected_before


def monthly(per_runner_hour: float, runner_hours: float, window_hours: int) -> float:
    """``runner_hours`` used in a window of ``window_hours``, scaled to a month's cost."""
    return per_runner_hour * runner_hours * HOURS_PER_MONTH / max(1, window_hours)

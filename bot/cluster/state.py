"""One look at the cluster for a scale set (:class:`ClusterState`), and the annotation
ARC names the values in force by. Pure: the adapter fills it, the reports read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VALUES_HASH = "actions.github.com/values-hash"  # the chart's; ARC copies it onto the AutoscalingListener


@dataclass(frozen=True)
class ClusterState:
    """What one look at the cluster saw for a scale set (raw objects as plain dicts)."""

    application: dict[str, Any] | None
    runner_set: dict[str, Any] | None
    listeners: list[dict[str, Any]]
    runners: list[dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)
    # The AutoscalingListener objects of the set (controller namespace): which pod is current.
    autoscaling_listeners: list[dict[str, Any]] = field(default_factory=list)

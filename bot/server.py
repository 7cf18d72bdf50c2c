"""The webhook server: the Starlette application, its routes, and ``runners-bot serve``.

Routes (explicit, in one list): ``POST /api/github/webhooks``, ``GET /healthz``
(process alive), ``GET /readyz`` (state database writable, settings loaded),
``GET /metrics`` (Prometheus text). Workers run in the application's lifespan on every
replica; the singletons (missed-delivery scan, rollout watches, schedules, dashboard,
housekeeping) on the one that holds their lease (:mod:`bot.runtime.leadership`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bot.clients.github import GitHubApp
from bot.clients.kube import Kube, api_client
from bot.features import capacity, comment_commands, onboarding, rollout_watch
from bot.features import dashboard as dashboard_feature
from bot.features import rightsizing as rightsizing_feature
from bot.features.capacity import JobEvidence
from bot.features.dashboard import Dashboard
from bot.features.rightsizing import RightSizing
from bot.features.rollout_watch import RolloutWatcher
from bot.features.scheduler import Scheduler
from bot.runtime import logs, offload
from bot.runtime.housekeeping import Housekeeping
from bot.runtime.leadership import Leadership
from bot.runtime.metrics import Metrics
from bot.runtime.settings import Settings, SettingsError
from bot.services import Services
from bot.services.command_runner import CommandRunner
from bot.services.pull_requests import PullRequests
from bot.services.runner_limits import RunnerLimits
from bot.store.api import Store
from bot.store.sqlite import SQLiteStore
from bot.webhooks.dispatch import Dispatcher
from bot.webhooks.endpoint import WebhookEndpoint
from bot.webhooks.recovery import Recovery
from bot.webhooks.routing import Router

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/github/webhooks"

# Which deliveries the app keeps, as the features declare them (data, no running app needed:
# the tests classify through this very router); build binds each kind to its handler.
ROUTER = Router(
    (
        *comment_commands.ROUTES,
        *onboarding.ROUTES,
        *rollout_watch.ROUTES,
        *dashboard_feature.ROUTES,
        *capacity.ROUTES,
        *rightsizing_feature.ROUTES,
    )
)


class FastPath:
    """The ASGI entry point: webhook deliveries go straight to their endpoint, the rest
    through Starlette (which also lists the webhook route, for 405s and documentation).
    Skipping the router and middleware on the hot path is worth about a quarter of the
    ingest throughput (bench/bench_ingest.py)."""

    def __init__(self, webhook: WebhookEndpoint, rest: Starlette) -> None:
        self.webhook = webhook
        self.rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == WEBHOOK_PATH:
            await self.webhook(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


@dataclass
class App:
    """Everything one server holds; tests build it with a fake GitHub transport."""

    settings: Settings
    services: Services
    runner_limits: RunnerLimits
    store: Store
    metrics: Metrics
    github: GitHubApp
    dispatcher: Dispatcher
    recovery: Recovery
    watcher: RolloutWatcher
    scheduler: Scheduler
    dashboard: Dashboard
    rightsizing: RightSizing
    leadership: Leadership
    starlette: Starlette
    asgi: FastPath


def build(settings: Settings, transport: httpx.AsyncBaseTransport | None = None, store: Store | None = None) -> App:
    metrics = Metrics()
    store = store or open_store(settings)
    github = GitHubApp(settings, metrics, transport)
    leadership = Leadership(store, metrics, seconds=settings.lease_seconds)
    services = Services(settings, store, github, metrics, leadership)
    pulls = PullRequests(store, evidence_days=settings.retention_days)
    kube = _kube(settings)
    runner_limits = RunnerLimits(services, kube)
    scheduler = Scheduler(services, runner_limits, interval=settings.clock_interval)
    watcher = RolloutWatcher(
        services,
        kube,
        interval=settings.rollout_interval,
        limit=settings.rollout_timeout,
        settle=settings.rollout_settle,
        runner_limits=runner_limits,
    )
    dashboard = Dashboard(services, kube, runner_limits, interval=settings.dashboard_interval)
    dashboard.cluster = watcher.cluster  # both run on the lead replica: one view of the cluster
    rightsizing = RightSizing(services, pulls)
    handlers = ROUTER.bind(
        {
            **comment_commands.handlers(CommandRunner(services, pulls, kube, runner_limits)),
            **onboarding.handlers(services, pulls, kube),
            **watcher.handlers(pulls),
            **dashboard.handlers(),
            **JobEvidence(services).handlers(),
            **rightsizing.handlers(),
        }
    )
    lease = settings.lease_seconds
    dispatcher = Dispatcher(store, handlers, metrics, settings.workers, lease=lease, poll=min(5.0, lease / 3))
    rightsizing.submit = dispatcher.submit
    recovery = Recovery(github, store, metrics, settings.recovery_interval, fence=leadership.fence)
    housekeeping = Housekeeping(store, metrics, settings.retention_days)
    leadership.jobs = [watcher, scheduler, dashboard, rightsizing, recovery, housekeeping]
    endpoint = WebhookEndpoint(
        settings.webhook_secret, store, metrics, dispatcher.submit, ROUTER, retention=settings.retention_days * 86_400
    )

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        ok = await store.writable()
        return JSONResponse(
            {"status": "ready" if ok else "state database not writable"}, status_code=200 if ok else 503
        )

    async def metrics_route(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await dispatcher.start()
        await leadership.start()
        log.info(
            "runners-bot ready",
            extra={"api_url": settings.api_url, "config_repo": settings.config_repo, "replica": store.owner},
        )
        try:
            yield
        finally:
            await leadership.stop()
            await dispatcher.stop()
            await github.close()
            await asyncio.to_thread(store.close)

    routes = [
        Route(WEBHOOK_PATH, endpoint, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
    ]
    starlette = Starlette(routes=routes, lifespan=lifespan)
    return App(
        settings,
        services,
        runner_limits,
        store,
        metrics,
        github,
        dispatcher,
        recovery,
        watcher,
        scheduler,
        dashboard,
        rightsizing,
        leadership,
        starlette,
        FastPath(endpoint, starlette),
    )


def replica_name() -> str:
    """This process among the replicas: the pod's name (its hostname), the pid, and a
    random part, so that a restarted pod of the same name is a new replica."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(3)}"


def open_store(settings: Settings) -> Store:
    """PostgreSQL when a database URL is set (replicas share it), else the embedded SQLite."""
    if settings.database_url:
        from bot.store.postgres import PostgresStore  # psycopg only where it is used

        return PostgresStore(settings.database_url, replica_name(), settings.lease_seconds, settings.workers + 6)
    return SQLiteStore(settings.state_path, replica_name(), settings.lease_seconds)


def _kube(settings: Settings) -> Kube | None:
    """The cluster reader, or None when there is no cluster to read (reports then say so)."""
    if not settings.kube_enabled:
        return None
    try:
        return Kube(api_client(settings.kube_api), settings.argocd_namespace, settings.controller_namespace)
    except Exception as exc:  # no in-cluster config and no kubeconfig: run without live state
        log.warning("no Kubernetes access (%s): rollout reports and status will say so", exc)
        return None


MAX_CONNECTIONS = 200


def run_server() -> int:
    """``runners-bot serve``: settings from the environment and .env, then uvicorn."""
    try:
        settings = Settings.load()
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"runners-bot serve: {problem}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    offload.start()
    try:
        app = build(settings)
    except Exception as exc:
        print(f"runners-bot serve: {exc}", file=sys.stderr)
        return 2
    offload.settle()
    uvicorn.run(
        app.asgi,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        # Bounded cost for strangers: more open connections than this get 503, idle
        # keep-alive connections are closed after a few seconds (bodies: bot.webhooks.endpoint).
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=5,
    )
    return 0

"""The one module that talks to GitHub (REST, through githubkit).

App routes use the App's JWT; everything else an installation token, cached by
githubkit until shortly before it expires, with one client per installation reused.
Retries: 5xx and timeouts with exponential backoff (only for requests that may be sent
twice: a POST that creates something may have been carried out before its answer was
lost, so it fails with :class:`GitHubUnavailable` and the delivery's retry, which first
looks for what it created, takes over), rate limits (primary and
secondary) by waiting for ``Retry-After`` or the reset time, but never longer than
``max_rate_limit_wait``: past that the call fails with :class:`GitHubUnavailable` and the
delivery is retried later, so one throttled call never holds up the others for long.
The waits between tries are the adapter's (:class:`Client`), on an injectable ``sleep``.
Repeated reads (file contents, branch heads) are conditional (``If-None-Match``): an
unchanged answer is a 304 and costs no rate limit. A file read at a commit never changes:
it is kept as text and read again with no call at all.

What is kept in memory is bounded (:class:`Caches`, by bytes or entries, least recently
used first): the answers kept for conditional requests, files at commits, default
branches, the clients of installations and githubkit's token cache.

Errors say whether trying again can help: :class:`GitHubUnavailable` or
:class:`GitHubRejected` (as kopf does).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import jwt
from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.cache.mem_cache import MemCache
from githubkit.exception import (
    GitHubException,
    GraphQLFailed,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)
from githubkit.retry import RetryOption

from bot.commands.permissions import PERMISSIONS, Permission
from bot.commands.render import inert
from bot.reports.bodies import fit
from bot.runtime import errors, offload
from bot.runtime.caches import Bounded
from bot.runtime.metrics import Metrics
from bot.runtime.settings import Settings, SettingsError

log = logging.getLogger(__name__)

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
Reaction = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]


class GitHubError(Exception):
    """A GitHub call failed. Each failure is also one of the two kinds the dispatcher
    knows (:mod:`bot.runtime.errors`): the classes below say which."""


class GitHubUnavailable(GitHubError, errors.TemporaryError):
    """GitHub could not answer now (5xx, timeouts, rate limits); ``retry_after`` in seconds."""


class Conflict(GitHubError, errors.TemporaryError):
    """A write lost a race (the file or branch moved): re-read, re-apply and try again,
    at once (a retried delivery reads everything anew)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=0.0)


class GitHubRejected(GitHubError, errors.PermanentError):
    """GitHub answered the request with a 4xx other than a rate limit, and will answer it
    the same way again; ``status`` is the HTTP status."""


class Unreadable(GitHubRejected):
    """A file could not be read whole (too large for every API GitHub offers, cut, not
    UTF-8, or not matching its blob): the app must not judge or edit it. ``reason`` says
    what went wrong, for the reply: a clause after "because", without parentheses, any
    remote text in it inert."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} could not be read whole: {reason}", 422)
        self.path = path
        self.reason = reason


# The literal words of the REST paths the app calls (and of those around them). Any other
# segment is a value (a name, a number, a sha) and becomes a placeholder, so the metric's
# endpoint label has a bounded set of values, whatever the values in the paths are.
_LITERALS = frozenset({
    "api", "v3", "graphql", "app", "app-manifests", "conversions", "installations", "installation", "access_tokens",
    "hook", "deliveries", "attempts", "repos", "repositories", "contents", "git", "blobs", "commits", "trees",
    "refs", "ref", "heads", "compare", "issues", "comments", "reactions", "labels", "pulls", "merge", "files",
    "collaborators", "permission", "orgs", "users", "user", "branches",
})  # fmt: skip
# Segments whose values run to the end of the path: a file's path, a ref, two commits, a blob.
_REST_OF_PATH = {"contents": "{path}", "ref": "{ref}", "refs": "{ref}", "compare": "{basehead}", "blobs": "{sha}"}


def endpoint(path: str) -> str:
    """A request path with its variable parts replaced, for metric labels: ``{owner}``
    and ``{repo}`` after ``repos``, the rest of the path after a segment that takes it,
    ``{id}`` for any other segment that is not a literal word of GitHub's paths."""
    out: list[str] = []
    for part in (p for p in path.split("/") if p):
        before = out[-1] if out else ""
        if before in _REST_OF_PATH:
            out.append(_REST_OF_PATH[before])
            break
        if before == "repos":
            out.append("{owner}")
        elif before == "{owner}":
            out.append("{repo}")
        else:
            out.append(part if part in _LITERALS else "{id}")
    return "/" + "/".join(out)


_TOKEN = re.compile(r"/app/installations/\d+/access_tokens$")


class MeteredTransport(httpx.AsyncBaseTransport):
    """Counts every GitHub call by endpoint and status and keeps the rate limit in view.

    One transport (one connection pool) serves every client of the app. githubkit makes
    an ``httpx.AsyncClient`` per request and closes it afterwards, which closes its
    transport: passed on, that would cut every other call in flight (a ``ReadError``
    for each, and a repeated request where the first had been carried out). So closing
    is :meth:`shutdown`'s, at the end of the app."""

    def __init__(self, inner: httpx.AsyncBaseTransport, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self._tokens: dict[str, asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and _TOKEN.search(request.url.path):
            return await self._token(request)
        return await self._send(request)

    async def _token(self, request: httpx.Request) -> httpx.Response:
        """One installation token request at a time per installation: calls made together
        on a cold start (reaction, configuration, permission) share the first one's answer
        instead of each asking GitHub for a token of its own."""
        path = request.url.path
        pending = self._tokens.get(path)
        if pending is None:
            pending = self._tokens[path] = asyncio.get_running_loop().create_future()
            pending.add_done_callback(lambda done: done.cancelled() or done.exception())  # retrieved, even unshared
            try:
                response = await self._send(request)
                content = await response.aread()
                pending.set_result((response.status_code, response.headers.raw, content))
            except BaseException as exc:
                pending.set_exception(exc)
                raise
            finally:
                del self._tokens[path]
            return response
        status, headers, content = await asyncio.shield(pending)
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError:
            self.metrics.github_calls.labels(request.method, endpoint(request.url.path), "error").inc()
            raise
        self.metrics.github_calls.labels(request.method, endpoint(request.url.path), str(response.status_code)).inc()
        remaining = response.headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.isdigit():
            self.metrics.rate_limit_remaining.set(int(remaining))
        return response

    async def aclose(self) -> None:
        """A client that used the shared pool is done with it: the pool stays."""

    async def shutdown(self) -> None:
        await self.inner.aclose()


class RetryPolicy:
    """githubkit retry decision: bounded backoff for 5xx/timeouts, bounded waits for rate limits."""

    def __init__(self, base_delay: float, max_rate_limit_wait: float, attempts: int = 3) -> None:
        self.base_delay = base_delay
        self.max_wait = max_rate_limit_wait
        self.attempts = attempts

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        if retry_count >= self.attempts:
            return RetryOption(False)
        if isinstance(exc, RateLimitExceeded):
            wait = exc.retry_after.total_seconds()
            if wait > self.max_wait:
                return RetryOption(False)
            return RetryOption(True, timedelta(seconds=max(wait, self.base_delay)))
        server_error = isinstance(exc, RequestFailed) and exc.response.status_code >= 500
        lost = isinstance(exc, RequestTimeout) or type(exc) is RequestError
        if (server_error or lost) and _may_repeat(exc):
            return RetryOption(True, timedelta(seconds=self.base_delay * 2**retry_count))
        return RetryOption(False)


# POSTs that create a new thing each time they are carried out (a comment, a pull request,
# an issue). Other POSTs repeat safely: a reaction or a label already there, a branch that
# exists (422), GraphQL (runners-bot only reads through it).
_CREATES = re.compile(r"/(comments|pulls|issues)$")


def _may_repeat(exc: GitHubException) -> bool:
    """Whether the failed request may be sent again as it is: not when its first try may
    have been carried out and a second would create a duplicate."""
    request: httpx.Request | None = None
    if isinstance(exc, RequestFailed):
        request = exc.response.raw_response.request
    elif isinstance(exc, RequestError) and isinstance(exc.exc, httpx.RequestError):
        with contextlib.suppress(RuntimeError):  # an httpx error raised before it had a request
            request = exc.exc.request
    return request is None or request.method != "POST" or not _CREATES.search(request.url.path)


def _translate(exc: GitHubException, what: str) -> GitHubError:
    if isinstance(exc, RateLimitExceeded):
        return GitHubUnavailable(f"{what}: GitHub rate limit", max(exc.retry_after.total_seconds(), 1.0))
    if isinstance(exc, RequestFailed):
        status = exc.response.status_code
        if status >= 500:
            return GitHubUnavailable(f"{what}: GitHub answered {status}")
        message = _message(exc.response.raw_response)
        return GitHubRejected(f"{what}: GitHub answered {status}: {message}", status)
    # The connection failed or timed out: soon, as the next try will probably get through.
    return GitHubUnavailable(f"{what}: {type(exc).__name__}", 2.0)


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    return str(data.get("message", ""))[:200] if isinstance(data, dict) else ""


@dataclass(frozen=True)
class FileContent:
    """A file read from a repository: its text and blob sha (the guard for writing it back)."""

    text: str
    sha: str


@dataclass(frozen=True)
class BranchFiles:
    """Files at the head of a repository's default branch, read in one request.

    ``files`` maps each path to its content, or to None when GraphQL could not give it
    whole (missing, binary or truncated): the caller reads those at ``commit`` by REST."""

    branch: str
    commit: str
    files: dict[str, FileContent | None]


# One request for what reading the configuration needs: the default branch's name and
# head commit, and the files at that very commit (REST needs a call for each).
_BRANCH_FILES = """
query($owner: String!, $name: String!, $first: String!, $second: String!) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef {
      name
      target {
        ... on Commit {
          oid
          first: file(path: $first) { object { ... on Blob { oid text isTruncated isBinary } } }
          second: file(path: $second) { object { ... on Blob { oid text isTruncated isBinary } } }
        }
      }
    }
  }
}
"""


def _blob(entry: Any) -> FileContent | None:
    """The blob's text when GraphQL gave it whole: not cut (``isTruncated``), and its
    bytes hash to the blob's oid, so no cut GitHub did not announce goes unnoticed."""
    blob = entry.get("object") if isinstance(entry, dict) else None
    if not isinstance(blob, dict) or blob.get("isTruncated") or blob.get("isBinary") or blob.get("text") is None:
        return None
    text, oid = str(blob["text"]), str(blob["oid"])
    return FileContent(text, oid) if git_blob_sha(text.encode("utf-8")) == oid else None


def git_blob_sha(data: bytes) -> str:
    """The id git gives a blob of ``data``: what GitHub reports as a file's ``sha``."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)  # not prefixed by concatenation: that would copy a 15 MB file once more
    return digest.hexdigest()


# base64 goes in slices so that the event loop takes the GIL back between them when it
# runs on a thread (offload.large).
_B64_SLICE = 3 * 256 * 1024  # a multiple of 3: slices encode to base64 that joins exactly


def _base64(data: bytes) -> bytes:
    """``base64.b64encode(data)``, a slice at a time."""
    view = memoryview(data)
    return b"".join(base64.b64encode(view[i : i + _B64_SLICE]) for i in range(0, len(data), _B64_SLICE))


def put_file_body(text: str, *, message: str, sha: str, branch: str) -> bytes:
    """The JSON body of a contents PUT, built around the base64 (which needs no JSON
    escaping) instead of escaping a 20 MB string through a JSON encoder in one call."""
    head = json.dumps({"message": message, "sha": sha, "branch": branch})
    return head[:-1].encode("utf-8") + b', "content": "' + _base64(text.encode("utf-8")) + b'"}'


# Above 1 MB the JSON contents API sends no content (``encoding: "none"``); the raw media
# type serves files up to 100 MB, GitHub's own limit for a file in a repository.
RAW = "application/vnd.github.raw"
REST_API_VERSION = "2026-03-10"  # the version githubkit's generated methods send (its schemas' date)
MAX_FILE_BYTES = 100 * 1024 * 1024
PER_PAGE = 100  # GitHub's largest page
MAX_PAGES = 100  # a thread of 10,000 comments is as far as a search for the App's own goes
# The bounds of what is kept in memory (Caches), whatever stream of repositories, commits
# and installations arrives. Bytes count the text kept plus a key's overhead.
ETAG_BYTES = 16 * 1024 * 1024  # answers kept for conditional reads (file contents, branch heads)
FILE_BYTES = 16 * 1024 * 1024  # files at a commit: the last few commits' values files (3 MB at 10,000 sets)
MAX_BRANCHES = 4096  # default branch names, by installation and repository
MAX_INSTALLATIONS = 1024  # installations' clients (each brings its token into the token cache)
MAX_TOKENS = 2 * MAX_INSTALLATIONS  # githubkit's cache: installation tokens and the App's JWT
_ENTRY = 256  # bytes a kept entry costs besides its text


@dataclass
class Caches:
    """What the App keeps of GitHub's answers, shared by its installations, each bounded."""

    etags: Bounded[str, tuple[str, Any]] = field(default_factory=lambda: Bounded(ETAG_BYTES))
    files: Bounded[str, FileContent] = field(default_factory=lambda: Bounded(FILE_BYTES))
    branches: Bounded[str, str] = field(default_factory=lambda: Bounded(MAX_BRANCHES))


class TokenCache(MemCache):
    """githubkit's token cache, bounded: an expired token is dropped as soon as anything is
    kept (githubkit drops one only when it is asked for again), and past ``MAX_TOKENS`` the
    oldest goes (its installation asks GitHub for a new token when it needs one)."""

    def __init__(self) -> None:  # MemCache's own sets only this, untyped
        self._cache = {}

    def set(self, key: str, value: str, ex: timedelta) -> None:
        now = datetime.now(UTC)
        for name in [k for k, item in self._cache.items() if item.expire_at is not None and item.expire_at < now]:
            del self._cache[name]
        self._cache.pop(key, None)  # a renewed token goes to the end: the newest
        super().set(key, value, ex)
        while len(self._cache) > MAX_TOKENS:
            del self._cache[next(iter(self._cache))]


class TokenCacheStrategy(MemCacheStrategy):
    """githubkit's in-memory strategy with :class:`TokenCache` as its store."""

    def get_cache_storage(self) -> MemCache:
        if self._cache is None:
            self._cache = TokenCache()
        return self._cache


Sleep = Callable[[float], Awaitable[None]]


class Client(GitHub[Any]):
    """githubkit's client with its retries made here (githubkit's are turned off): the
    same decision (:class:`RetryPolicy`), and the wait on ``sleep``, which a test can
    replace to let time pass without waiting for it."""

    retry: RetryPolicy  # both set by _client, which builds every one
    sleep: Sleep

    async def arequest(self, *args: Any, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                return await super().arequest(*args, **kwargs)
            except GitHubException as exc:
                option = self.retry(exc, attempt)
                if not option.do_retry:
                    raise
                await self.sleep((option.retry_after or timedelta()).total_seconds())
                attempt += 1


def _client(auth: Any, retry: RetryPolicy, sleep: Sleep, **options: Any) -> Client:
    client = Client(auth, http_cache=False, auto_retry=False, user_agent="runners-bot", **options)
    client.retry, client.sleep = retry, sleep
    return client


def _signing_key(pem: str) -> Any:
    """The App's key, read once. PyJWT signs with a key object as well as with its PEM
    text, from which it read and checked the RSA key again for every JWT: 80-110 ms of
    the event loop's GIL measured (``/healthz`` waited). Unreadable, it stays text: the
    first JWT says why, as before."""
    try:
        return jwt.get_algorithm_by_name("RS256").prepare_key(pem)
    except jwt.InvalidKeyError:
        return pem


class GitHubApp:
    """The App: JWT-authenticated routes and a client per installation; ``sleep`` is what
    every client waits with between tries (tests replace it)."""

    def __init__(self, settings: Settings, metrics: Metrics, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if settings.app_id is None or settings.private_key is None:
            raise SettingsError(["GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY are needed to call GitHub"])
        self.settings = settings
        self.transport = MeteredTransport(transport or httpx.AsyncHTTPTransport(), metrics)
        self.auth = AppAuthStrategy(settings.app_id, _signing_key(settings.private_key))
        self.cache = TokenCacheStrategy()
        self.app = self._client(self.auth)
        self.caches = Caches()
        self.installations: Bounded[int, Installation] = Bounded(MAX_INSTALLATIONS)
        self.sleep: Sleep = asyncio.sleep

    async def _wait(self, seconds: float) -> None:
        await self.sleep(seconds)  # the App's sleep as it is then (a test may replace it)

    def _client(self, auth: Any) -> Client:
        return _client(
            auth,
            RetryPolicy(self.settings.retry_base_delay, self.settings.max_rate_limit_wait),
            self._wait,
            base_url=self.settings.api_url + "/",
            async_transport=self.transport,
            cache_strategy=self.cache,
            timeout=self.settings.github_timeout,
        )

    async def close(self) -> None:
        """Close the connections to GitHub (the end of the app)."""
        await self.transport.shutdown()

    def installation(self, installation_id: int) -> Installation:
        found = self.installations.get(installation_id)
        if found is None:
            client = self._client(self.auth.as_installation(installation_id))
            found = Installation(client, self.caches, self.settings.app_id, scope=str(installation_id))
            self.installations.put(installation_id, found)
        return found

    async def failed_deliveries(self, limit_pages: int = 30) -> list[dict[str, Any]]:
        """The App's recent deliveries (newest first), every page GitHub keeps, as plain dicts."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(limit_pages):
            kwargs: dict[str, Any] = {"per_page": 100}
            if cursor:
                kwargs["cursor"] = cursor
            try:
                response = await self.app.rest.apps.async_list_webhook_deliveries(**kwargs)
            except GitHubException as exc:
                raise _translate(exc, "listing deliveries") from exc
            page = _data(response)
            items.extend(page if isinstance(page, list) else [])
            cursor = _next_cursor(response.headers.get("link", ""))
            if not cursor:
                break
        return items

    async def redeliver(self, delivery_id: int) -> None:
        try:
            await self.app.rest.apps.async_redeliver_webhook_delivery(delivery_id)
        except GitHubException as exc:
            raise _translate(exc, f"redelivering {delivery_id}") from exc


def token_installation(token: str, api_url: str, transport: httpx.AsyncBaseTransport | None = None) -> Installation:
    """Calls made with a token (a person's or a workflow's) instead of as the App, for the
    command line (``runners-bot validate --runner-groups``)."""
    client = _client(
        TokenAuthStrategy(token),
        RetryPolicy(1.0, 60.0),
        asyncio.sleep,
        base_url=api_url.rstrip("/") + "/",
        async_transport=transport,
        cache_strategy=MemCacheStrategy(),
    )
    return Installation(client, Caches())


def _file_meta(data: Any, owner: str, repo: str, path: str) -> tuple[str, int]:
    """The blob sha and size the contents API reports for a file."""
    if not isinstance(data, dict) or data.get("type") != "file":
        raise GitHubRejected(f"{owner}/{repo}:{path} is not a file", 422)
    size = data.get("size")
    if not isinstance(size, int) or size < 0:
        raise Unreadable(path, "GitHub did not say how large it is")
    return str(data.get("sha", "")), size


def _inline_content(data: dict[str, Any]) -> bytes | None:
    """The file's bytes when the JSON answer carries them (base64), else None."""
    if data.get("encoding") != "base64":
        return None  # "none": the file is over 1 MB and must be read raw
    try:
        return base64.b64decode(str(data.get("content", "")), validate=False)
    except ValueError:
        return None


def whole_text(path: str, data: bytes, sha: str, size: int) -> FileContent:
    """``data`` as text, only if it is the whole blob: its size and git sha match."""
    if len(data) != size:
        raise Unreadable(path, f"GitHub sent {len(data):,} of its {size:,} bytes")
    if git_blob_sha(data) != sha:
        raise Unreadable(path, "what GitHub sent does not match the file's blob sha")
    try:
        return FileContent(data.decode("utf-8"), sha)
    except UnicodeDecodeError:
        raise Unreadable(path, "it is not UTF-8 text") from None


def _data(response: Any) -> Any:
    """The JSON body as plain data: the app reads what it needs and skips model validation."""
    return response.json()


def _next_cursor(link: str) -> str | None:
    for part in link.split(","):
        if 'rel="next"' in part:
            match = re.search(r"[?&]cursor=([^&>]+)", part)
            if match:
                return match.group(1)
    return None


class Installation:
    """Calls made as one installation of the App."""

    def __init__(self, client: GitHub[Any], caches: Caches, app_id: int | None = None, *, scope: str = "") -> None:
        self.gh = client
        self.app_id = app_id
        self.caches = caches
        self.scope = scope  # the installation: what one reads is not handed to another without a call

    async def _conditional(self, key: str, call: Any) -> Any:
        """Run ``call(headers)``; reuse the cached body when GitHub answers 304 Not Modified.
        (GitHub answers 304 only to a token that may read the thing: the cache is shared.)"""
        cached = self.caches.etags.get(key)
        headers = {"If-None-Match": cached[0]} if cached else {}
        response = await call(headers)
        if response.status_code == 304 and cached is not None:
            return cached[1]
        data = _data(response)
        etag = response.headers.get("etag")
        if etag:
            self.caches.etags.put(key, (etag, data), len(response.raw_response.content) + len(key) + _ENTRY)
        return data

    async def react(self, owner: str, repo: str, comment_id: int, content: Reaction) -> None:
        try:
            await self.gh.rest.reactions.async_create_for_issue_comment(owner, repo, comment_id, content=content)
        except GitHubException as exc:
            raise _translate(exc, "adding a reaction") from exc

    async def react_to_issue(self, owner: str, repo: str, number: int, content: Reaction) -> None:
        try:
            await self.gh.rest.reactions.async_create_for_issue(owner, repo, number, content=content)
        except GitHubException as exc:
            raise _translate(exc, "adding a reaction") from exc

    async def permission(self, owner: str, repo: str, user: str) -> Permission:
        """The user's permission on the repository ('none' for non-collaborators)."""
        try:
            response = await self.gh.rest.repos.async_get_collaborator_permission_level(owner, repo, user)
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                return "none"
            raise _translate(exc, "reading a permission") from exc
        except GitHubException as exc:
            raise _translate(exc, "reading a permission") from exc
        data = _data(response)
        # role_name carries maintain and triage, which `permission` folds into write and read.
        for value in (data.get("role_name"), data.get("permission")):
            if value in PERMISSIONS:
                return PERMISSIONS[PERMISSIONS.index(value)]
        return "none"

    async def file(self, owner: str, repo: str, path: str, ref: str | None = None) -> FileContent:
        """The whole file, verified against its blob sha and size; :class:`Unreadable`
        when GitHub cannot give it whole (never an empty or cut text)."""
        key = f"contents:{owner}/{repo}/{path}@{ref or ''}"
        at_commit = ref is not None and _COMMIT.match(ref) is not None
        kept = self.caches.files.get(f"{self.scope}:{key}") if at_commit else None
        if kept is not None:
            return kept  # contents at a commit sha never change: no call at all

        async def call(headers: dict[str, str]) -> Any:
            if ref:
                return await self.gh.rest.repos.async_get_content(owner, repo, path, ref=ref, headers=headers)
            return await self.gh.rest.repos.async_get_content(owner, repo, path, headers=headers)

        at_commit = ref is not None and _COMMIT.match(ref) is not None
        try:
            # At a commit the text is kept (above), not GitHub's answer with its base64 copy.
            data = _data(await call({})) if at_commit else await self._conditional(key, call)
        except GitHubException as exc:
            raise _translate(exc, f"reading {path}") from exc
        sha, size = _file_meta(data, owner, repo, path)
        if size > MAX_FILE_BYTES:
            raise Unreadable(path, f"it is {size:,} bytes, over the 100 MB GitHub serves through its API")
        content = _inline_content(data)
        if content is None:
            content = await self._raw(owner, repo, path, ref if at_commit and ref else sha, by_blob=not at_commit)
        found: FileContent = await offload.large(whole_text, path, content, sha, size, size=len(content))
        if at_commit:
            self.caches.files.put(f"{self.scope}:{key}", found, len(content) + len(key) + _ENTRY)
        return found

    async def _raw(self, owner: str, repo: str, path: str, ref: str, *, by_blob: bool) -> bytes:
        """A file's bytes through the raw media type (up to 100 MB): at commit ``ref``, or
        (``by_blob``) the blob ``ref`` itself, so a branch that moved in between cannot
        give another version than the one the metadata described."""
        headers = {"Accept": RAW}
        response: Any
        try:
            if by_blob:
                response = await self.gh.rest.git.async_get_blob(owner, repo, ref, headers=headers)
            else:
                response = await self.gh.rest.repos.async_get_content(owner, repo, path, ref=ref, headers=headers)
        except RequestFailed as exc:
            if exc.response.status_code in (403, 413, 422):
                message = _message(exc.response.raw_response)
                # GitHub's own words, quoted inert: they go into the reply's Markdown.
                said = f"saying {inert(message)}" if message else f"with HTTP {exc.response.status_code}"
                raise Unreadable(path, f"GitHub refused to send it, {said}") from exc
            raise _translate(exc, f"reading {path}") from exc
        except GitHubException as exc:
            raise _translate(exc, f"reading {path}") from exc
        return bytes(response.content)

    async def branch_files(self, owner: str, repo: str, first: str, second: str) -> BranchFiles:
        """The default branch, its head and two files there, in one GraphQL request."""
        variables = {"owner": owner, "name": repo, "first": first, "second": second}
        try:
            data = await self.gh.async_graphql(_BRANCH_FILES, variables)
        except GraphQLFailed as exc:
            raise GitHubRejected(f"reading {owner}/{repo}: {exc}", 422) from exc
        except GitHubException as exc:
            raise _translate(exc, f"reading {owner}/{repo}") from exc
        ref: dict[str, Any] = (data.get("repository") or {}).get("defaultBranchRef") or {}
        target: dict[str, Any] = ref.get("target") or {}
        if not target.get("oid"):
            raise GitHubRejected(f"{owner}/{repo} has no default branch the App can read", 404)
        self.caches.branches.put(f"{self.scope}:{owner}/{repo}", str(ref["name"]))
        return BranchFiles(
            str(ref["name"]),
            str(target["oid"]),
            {first: _blob(target.get("first")), second: _blob(target.get("second"))},
        )

    async def default_branch(self, owner: str, repo: str) -> str:
        """The repository's default branch, asked once per process."""
        key = f"{self.scope}:{owner}/{repo}"
        found = self.caches.branches.get(key)
        if found is None:
            try:
                response = await self.gh.rest.repos.async_get(owner, repo)
            except GitHubException as exc:
                raise _translate(exc, f"reading {owner}/{repo}") from exc
            found = str(_data(response)["default_branch"])
            self.caches.branches.put(key, found)
        return found

    async def contains(self, owner: str, repo: str, commit: str, later: str) -> bool:
        """True when ``later`` is ``commit`` or a descendant of it (``commit...later`` is
        identical or ahead)."""
        try:
            response = await self.gh.rest.repos.async_compare_commits(owner, repo, f"{commit}...{later}", per_page=1)
        except GitHubException as exc:
            raise _translate(exc, f"comparing {commit[:7]} with {later[:7]}") from exc
        return _data(response).get("status") in ("identical", "ahead")

    async def head(self, owner: str, repo: str, branch: str) -> str | None:
        """The commit a branch points at, or None when the branch does not exist."""
        key = f"ref:{owner}/{repo}/{branch}"
        try:
            data = await self._conditional(
                key, lambda h: self.gh.rest.git.async_get_ref(owner, repo, f"heads/{branch}", headers=h)
            )
        except RequestFailed as exc:
            if exc.response.status_code == 404:
                return None
            raise _translate(exc, f"reading branch {branch}") from exc
        except GitHubException as exc:
            raise _translate(exc, f"reading branch {branch}") from exc
        return str(data["object"]["sha"])

    async def create_branch(self, owner: str, repo: str, branch: str, sha: str) -> bool:
        """Create ``branch`` at ``sha``; False when it already exists."""
        try:
            await self.gh.rest.git.async_create_ref(owner, repo, ref=f"refs/heads/{branch}", sha=sha)
        except RequestFailed as exc:
            if exc.response.status_code == 422 and "already exists" in _message(exc.response.raw_response):
                return False
            raise _translate(exc, f"creating branch {branch}") from exc
        except GitHubException as exc:
            raise _translate(exc, f"creating branch {branch}") from exc
        return True

    async def reset_branch(self, owner: str, repo: str, branch: str, sha: str) -> None:
        try:
            await self.gh.rest.git.async_update_ref(owner, repo, f"heads/{branch}", sha=sha, force=True)
        except GitHubException as exc:
            raise _translate(exc, f"moving branch {branch}") from exc

    async def put_file(
        self, owner: str, repo: str, path: str, *, text: str, sha: str, branch: str, message: str
    ) -> str:
        """Commit ``text`` to ``path`` on ``branch``; ``sha`` is the blob being replaced. Returns the commit sha.

        Raises :class:`Conflict` when the file changed under us (409/422)."""
        body: bytes = await offload.large(
            functools.partial(put_file_body, text, message=message, sha=sha, branch=branch), size=len(text)
        )
        try:
            # The body pre-encoded: the generated method would validate and JSON-encode
            # the 20 MB base64 string on the event loop.
            response = await self.gh.arequest(
                "PUT",
                f"/repos/{owner}/{repo}/contents/{path}",
                content=body,
                headers={"Content-Type": "application/json", "X-GitHub-Api-Version": REST_API_VERSION},
            )
        except RequestFailed as exc:
            if exc.response.status_code in (409, 422):
                raise Conflict(f"{path} changed on {branch}: {_message(exc.response.raw_response)}") from exc
            raise _translate(exc, f"committing {path}") from exc
        except GitHubException as exc:
            raise _translate(exc, f"committing {path}") from exc
        return str(_data(response)["commit"]["sha"])

    async def create_pull(
        self, owner: str, repo: str, *, head: str, base: str, title: str, body: str
    ) -> dict[str, Any] | None:
        """The new pull request, or None when one is already open for ``head``."""
        try:
            response = await self.gh.rest.pulls.async_create(
                owner, repo, head=head, base=base, title=title, body=fit(body)
            )
        except RequestFailed as exc:
            if exc.response.status_code == 422 and "already exists" in _message(exc.response.raw_response):
                return None
            raise _translate(exc, "opening a pull request") from exc
        except GitHubException as exc:
            raise _translate(exc, "opening a pull request") from exc
        return dict(_data(response))

    async def open_pull(self, owner: str, repo: str, head: str) -> dict[str, Any] | None:
        try:
            response = await self.gh.rest.pulls.async_list(owner, repo, state="open", head=f"{owner}:{head}")
        except GitHubException as exc:
            raise _translate(exc, "listing pull requests") from exc
        found = _data(response)
        return dict(found[0]) if found else None

    async def update_pull(self, owner: str, repo: str, number: int, *, title: str, body: str) -> dict[str, Any]:
        try:
            response = await self.gh.rest.pulls.async_update(owner, repo, number, title=title, body=fit(body))
        except GitHubException as exc:
            raise _translate(exc, f"updating pull request #{number}") from exc
        return dict(_data(response))

    async def label(self, owner: str, repo: str, number: int, labels: list[str]) -> None:
        try:
            await self.gh.rest.issues.async_add_labels(owner, repo, number, labels=labels)
        except GitHubException as exc:
            raise _translate(exc, f"labelling #{number}") from exc

    async def comment(self, owner: str, repo: str, number: int, body: str) -> int:
        try:
            response = await self.gh.rest.issues.async_create_comment(owner, repo, number, body=fit(body))
        except GitHubException as exc:
            raise _translate(exc, "posting a comment") from exc
        return int(_data(response)["id"])

    async def edit_comment(self, owner: str, repo: str, comment_id: int, body: str) -> None:
        try:
            await self.gh.rest.issues.async_update_comment(owner, repo, comment_id, body=fit(body))
        except GitHubException as exc:
            raise _translate(exc, "editing a comment") from exc

    async def open_issue(self, owner: str, repo: str, title: str, body: str, labels: list[str]) -> int:
        try:
            response = await self.gh.rest.issues.async_create(owner, repo, title=title, body=fit(body), labels=labels)
        except GitHubException as exc:
            raise _translate(exc, "opening an issue") from exc
        return int(_data(response)["number"])

    async def edit_issue(self, owner: str, repo: str, number: int, body: str) -> None:
        try:
            await self.gh.rest.issues.async_update(owner, repo, number, body=fit(body))
        except GitHubException as exc:
            raise _translate(exc, f"editing issue #{number}") from exc

    async def find_issue(self, owner: str, repo: str, label: str, marker: str) -> int | None:
        """The newest open issue *this App opened* with ``label`` whose body holds ``marker``,
        on any page."""
        found: list[int] = []
        async for page in self._pages(
            "listing issues",
            lambda n: self.gh.rest.issues.async_list_for_repo(
                owner, repo, labels=label, state="open", per_page=PER_PAGE, page=n
            ),
        ):
            found += [int(i["number"]) for i in page if self._wrote(i) and marker in (i.get("body") or "")]
        return max(found) if found else None

    async def find_comments(self, owner: str, repo: str, number: int, markers: Sequence[str]) -> dict[str, int]:
        """For each of ``markers``, the id of the newest comment *this App wrote* on the
        thread whose body holds it, on any page, in one listing of the thread. Markers are
        predictable; a comment anyone else posted with one (to take over or silence a
        report) is not the App's, whatever it holds."""
        found: dict[str, int] = {}
        async for page in self._pages(
            "listing comments",
            lambda n: self.gh.rest.issues.async_list_comments(owner, repo, number, per_page=PER_PAGE, page=n),
        ):
            for comment in page:
                if self._wrote(comment):
                    body = comment.get("body") or ""
                    found.update((marker, int(comment["id"])) for marker in markers if marker in body)
        return found

    async def runner_groups(self, org: str) -> list[str]:
        """The names of the organisation's runner groups (its own and those it inherits from
        its enterprise), on every page. :class:`GitHubRejected` 403 when the credentials may
        not read them (the organisation permission "Self-hosted runners: read"; a classic
        token's ``admin:org``), 404 for an organisation they do not reach."""
        found: list[str] = []
        async for page in self._pages(
            f"listing the runner groups of {org}",
            lambda n: self.gh.rest.actions.async_list_self_hosted_runner_groups_for_org(org, per_page=PER_PAGE, page=n),
            key="runner_groups",
        ):
            found += [str(g["name"]) for g in page if isinstance(g, dict) and g.get("name")]
        return found

    async def _pages(
        self, what: str, call: Callable[[int], Awaitable[Any]], key: str | None = None
    ) -> AsyncIterator[list[Any]]:
        """Every page of a list (GitHub serves at most 100 items a page), up to ``MAX_PAGES``;
        ``key``: the list is that field of each page's object."""
        for number in range(1, MAX_PAGES + 1):
            try:
                response = await call(number)
            except GitHubException as exc:
                raise _translate(exc, what) from exc
            page = _data(response)
            page = page.get(key) if key is not None and isinstance(page, dict) else page
            page = page if isinstance(page, list) else []
            yield page
            if len(page) < PER_PAGE or 'rel="next"' not in response.headers.get("link", ""):
                return

    def _wrote(self, comment: dict[str, Any]) -> bool:
        app = comment.get("performed_via_github_app") or {}
        return self.app_id is not None and app.get("id") == self.app_id

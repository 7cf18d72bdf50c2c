"""The one shared, stateful fake of GitHub's REST and GraphQL APIs, used by every test that talks to GitHub.

It is an ASGI app, so it serves in-process (``httpx.ASGITransport``) and as a real HTTP
server for tests that run ``runners-bot serve`` as a separate process. Every request is
checked against GitHub's REST description (:mod:`openapi_check`); a request GitHub
would not understand is recorded in ``violations`` and answered 404, so a wrong
endpoint fails the suite. Responses start from GitHub's own examples. GraphQL queries
are validated against GitHub's GraphQL schema (:mod:`graphql_check`) and executed
against the same state.

State: repositories (commits, branches, file contents, collaborators), issue comments,
reactions, pull requests, the App's webhook deliveries, organisations' runner groups. Faults can be injected per
operation: error statuses, rate limits, delays, and holds that block a call until the
test releases it.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support import graphql_check
from tests.support.openapi_check import OpenAPI

SPEC = OpenAPI()
# GitHub's documented limits, enforced as GitHub enforces them (its REST and GraphQL documentation).
MAX_BODY = 65_536  # characters in an issue, pull request or comment body: 422 above
JSON_CONTENT_LIMIT = 1024 * 1024  # above: the JSON contents answer has no content
RAW_LIMIT = 100 * 1024 * 1024  # the raw media type and the blobs API serve up to this
MAX_PER_PAGE = 100
RAW = "application/vnd.github.raw"
# The keys GitHub's App manifest takes (registering-a-github-app-from-a-manifest).
MANIFEST_KEYS = {
    "name", "url", "hook_attributes", "redirect_url", "callback_urls", "setup_url", "description",
    "public", "default_events", "default_permissions", "request_oauth_on_install", "setup_on_update",
}  # fmt: skip


@functools.lru_cache(maxsize=256)
def blob_sha(text: str) -> str:
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Call:
    method: str
    template: str
    path: str
    status: int
    body: Any
    query: dict[str, str]


@dataclass
class Repo:
    owner: str
    name: str
    default_branch: str = "main"
    commits: dict[str, dict[str, str]] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class Fault:
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hold: threading.Event | None = None
    message: str | None = None  # the error body's "message" (GitHub's own words, any text)


class FakeGitHub:
    """State plus an ASGI app; tests read ``calls`` and the state to check what happened."""

    def __init__(self, app_id: int, public_key: str) -> None:
        self.app_id = app_id
        self.public_key = public_key
        self.repos: dict[str, Repo] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.reactions: list[dict[str, Any]] = []
        self.pulls: dict[str, list[dict[str, Any]]] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.redelivered: list[int] = []
        self.tokens: dict[str, int] = {}
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.faults: dict[tuple[str, str], list[Fault]] = {}
        self.reached: dict[tuple[str, str], threading.Event] = {}
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        # The manifest flow: Apps waiting for confirmation, one-time codes, Apps created.
        self.manifests_pending: dict[str, tuple[dict[str, Any], str, str]] = {}
        self.manifest_codes: dict[str, tuple[dict[str, Any], str, float]] = {}
        self.apps_created: list[dict[str, Any]] = []
        self.issues: dict[int, dict[str, Any]] = {}
        # Organisations (lower case) and their runner groups' names; ``runner_groups_denied``:
        # the credentials lack the organisation permission "Self-hosted runners: read".
        self.runner_groups: dict[str, list[str]] = {}
        self.runner_groups_denied = False
        self.new_app_key = ""  # the PEM the next created App gets (tests set a real key)
        self.app = Starlette(
            routes=[Route("/{rest:path}", self._endpoint, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
        )

    # --- setting up state -----------------------------------------------------------

    def add_repo(self, full_name: str, files: dict[str, str], permissions: dict[str, str] | None = None) -> Repo:
        owner, name = full_name.split("/")
        repo = Repo(owner, name, permissions=dict(permissions or {}))
        sha = self._commit(repo, files, None)
        repo.branches[repo.default_branch] = sha
        self.repos[full_name.lower()] = repo
        self.pulls.setdefault(full_name.lower(), [])
        return repo

    def _commit(self, repo: Repo, files: dict[str, str], parent: str | None) -> str:
        sha = hashlib.sha1(f"{next(self._ids)}{len(repo.commits)}{sorted(files)}".encode()).hexdigest()
        repo.commits[sha] = dict(files)
        for text in files.values():
            repo.blobs.setdefault(blob_sha(text), text)
        repo.parents[sha] = parent
        return sha

    def _ancestors(self, repo: Repo, sha: str | None) -> list[str]:
        found = []
        while sha is not None:
            found.append(sha)
            sha = repo.parents.get(sha)
        return found

    def push(self, full_name: str, path: str, text: str, branch: str | None = None) -> str:
        """A commit made outside the app (someone else moving the branch)."""
        repo = self.repos[full_name.lower()]
        branch = branch or repo.default_branch
        files = dict(repo.commits[repo.branches[branch]])
        files[path] = text
        repo.branches[branch] = self._commit(repo, files, repo.branches[branch])
        return repo.branches[branch]

    def file(self, full_name: str, path: str, branch: str | None = None) -> str:
        repo = self.repos[full_name.lower()]
        return repo.commits[repo.branches[branch or repo.default_branch]][path]

    def inject(self, method: str, template: str, *faults: Fault) -> None:
        self.faults.setdefault((method, template), []).extend(faults)

    def hold(self, method: str, template: str) -> threading.Event:
        """Block the next such call until the returned event is set; ``reached`` tells when it arrived."""
        release = threading.Event()
        self.reached[(method, template)] = threading.Event()
        self.inject(method, template, Fault(status=0, hold=release))
        return release

    def count(self, method: str | None = None, template: str | None = None) -> int:
        return sum(
            1
            for c in self.calls
            if (method is None or c.method == method) and (template is None or c.template == template)
        )

    def thread_comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["_repo"] == full_name.lower() and c["_issue"] == number]

    def merge(self, full_name: str, number: int, merged_by: str = "maintainer") -> dict[str, Any]:
        """Squash-merge a pull request; returns the pull request as GitHub would send it."""
        repo = self.repos[full_name.lower()]
        pull = next(p for p in self.pulls[full_name.lower()] if p["number"] == number)
        head_files = repo.commits[repo.branches[pull["head"]["ref"]]]
        base_files = dict(repo.commits[repo.branches[pull["base"]["ref"]]])
        base_files.update(head_files)
        sha = self._commit(repo, base_files, repo.branches[pull["base"]["ref"]])
        repo.branches[pull["base"]["ref"]] = sha
        pull.update(state="closed", merged=True, merge_commit_sha=sha, merged_by={"login": merged_by, "type": "User"})
        return pull

    # --- HTTP --------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        method, path = request.method, request.url.path
        query = dict(parse_qsl(request.url.query))
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if (method, path) == ("POST", "/graphql"):
            return await self._graphql(request.headers.get("authorization", ""), body)
        if path.endswith("/settings/apps/new") or path == "/settings/apps/new/confirm":
            return await self._new_app_page(request, path)
        op, problems = SPEC.check(method, path, query, body)
        template = op.template if op else path
        if problems:
            self.violations.extend(problems)
            return self._record(
                method, template, path, body, query, JSONResponse({"message": "Not Found"}, status_code=404)
            )
        auth_problem = self._authenticate(template, request.headers.get("authorization", ""))
        if auth_problem:
            return self._record(
                method, template, path, body, query, JSONResponse({"message": auth_problem}, status_code=401)
            )
        injected = await self._fault(method, template)
        if injected is not None:
            return self._record(method, template, path, body, query, injected)
        assert op is not None
        params = op.pattern.match(path)
        assert params is not None
        with self._lock:
            response = self._handle(method, template, params.groupdict(), query, body, request.headers)
        return self._record(method, template, path, body, query, response)

    def _record(
        self, method: str, template: str, path: str, body: Any, query: dict[str, str], response: Response
    ) -> Response:
        response.headers["x-ratelimit-remaining"] = str(4999 - len(self.calls))
        self.calls.append(Call(method, template, path, response.status_code, body, query))
        return response

    # --- the manifest flow's web pages (github.com/settings/apps/new), not part of the API ---

    async def _new_app_page(self, request: Request, path: str) -> Response:
        """GitHub's new-App page: shows the manifest's App for confirmation; confirming
        creates it and sends the browser to its redirect_url with a one-time code."""
        form = await request.form()
        if path == "/settings/apps/new/confirm":
            pending = self.manifests_pending.pop(str(form.get("ticket", "")), None)
            if pending is None:
                return HTMLResponse("<h1>Not found</h1>", status_code=404)
            confirmed, owner, state = pending
            code = f"code-{next(self._ids)}"
            self.manifest_codes[code] = (confirmed, owner, time.time())
            separator = "&" if "?" in confirmed["redirect_url"] else "?"
            target = f"{confirmed['redirect_url']}{separator}code={code}" + (f"&state={state}" if state else "")
            return RedirectResponse(target, status_code=302)
        try:
            manifest: Any = json.loads(str(form.get("manifest", "")))
        except ValueError:
            manifest = None
        unknown = set(manifest or {}) - MANIFEST_KEYS if isinstance(manifest, dict) else {"(not JSON)"}
        if not isinstance(manifest, dict) or unknown or not manifest.get("redirect_url"):
            self.violations.append(f"manifest refused: unknown keys {unknown} or no redirect_url")
            return HTMLResponse("<h1>Invalid GitHub App manifest</h1>", status_code=422)
        owner = path.split("/")[2] if path.startswith("/organizations/") else "octocat"
        ticket = f"ticket-{next(self._ids)}"
        self.manifests_pending[ticket] = (manifest, owner, request.query_params.get("state", ""))
        page = (
            f"<h1>Create GitHub App for {owner}</h1><p>{manifest.get('name')}</p>"
            f'<form method="post" action="/settings/apps/new/confirm"><input type="hidden" name="ticket" value="{ticket}">'
            '<button id="create-github-app" type="submit">Create GitHub App</button></form>'
        )
        return HTMLResponse(page)

    def op_post_app_manifest_conversions(self, p: dict[str, str], *_: Any) -> Response:
        found = self.manifest_codes.pop(p["code"], None)
        if found is None or time.time() - found[2] > 3600:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        manifest, owner, _created = found
        hook = manifest.get("hook_attributes") or {}
        app_id = next(self._ids)
        slug = str(manifest["name"]).lower().replace(" ", "-")
        sample = SPEC.sample("POST", "/app-manifests/{code}/conversions", "201")
        created = {
            **sample,
            "id": app_id,
            "slug": slug,
            "name": manifest["name"],
            "html_url": f"https://github.com/apps/{slug}",
            "owner": {**sample.get("owner", {}), "login": owner},
            "pem": self.new_app_key,
            # GitHub's REST description (@octokit/openapi, POST /app-manifests/{code}/conversions):
            # webhook_secret is required but nullable; an App without an active webhook gets null.
            "webhook_secret": f"whsec-{app_id}" if hook.get("active", True) and hook.get("url") else None,
            "client_id": f"Iv1.{app_id:016x}",
            "client_secret": f"secret-{app_id}",
            "permissions": manifest.get("default_permissions", {}),
            "events": manifest.get("default_events", []),
        }
        self.apps_created.append({**created, "manifest": manifest})
        return JSONResponse(created, status_code=201)

    # GraphQL truncates large blobs' text (isTruncated); the fake does so above this size,
    # so that the app's REST fallback for large files is exercised too.
    graphql_text_limit = 512 * 1024
    raw_limit = RAW_LIMIT  # a test lowers it to see a file GitHub will not serve, without 100 MB of text

    async def _fault(self, method: str, template: str) -> Response | None:
        """Apply the next injected fault of an operation: a hold, a delay, an error status."""
        fault = self._next_fault(method, template)
        if fault is None:
            return None
        reached = self.reached.get((method, template))
        if reached is not None:
            reached.set()
        if fault.hold is not None:
            await asyncio.to_thread(fault.hold.wait)
        elif fault.delay:
            await asyncio.sleep(fault.delay)
        if not fault.status:
            return None
        message = fault.message if fault.message is not None else f"injected {fault.status}"
        return JSONResponse({"message": message}, status_code=fault.status, headers=fault.headers)

    async def _graphql(self, authorization: str, body: Any) -> Response:
        auth_problem = self._authenticate("/graphql", authorization)
        if auth_problem or not isinstance(body, dict):
            return self._record(
                "POST",
                "/graphql",
                "/graphql",
                body,
                {},
                JSONResponse(
                    {"message": auth_problem or "Problems parsing JSON"}, status_code=401 if auth_problem else 400
                ),
            )
        injected = await self._fault("POST", "/graphql")
        if injected is not None:
            return self._record("POST", "/graphql", "/graphql", body, {}, injected)
        with self._lock:
            answer, problems = graphql_check.run(
                str(body.get("query", "")), body.get("variables"), {"repository": self._gql_repository}
            )
        self.violations.extend(problems)
        return self._record("POST", "/graphql", "/graphql", body, {}, JSONResponse(answer))

    def _gql_repository(self, _: Any, owner: str, name: str, **__: Any) -> dict[str, Any] | None:
        repo = self.repos.get(f"{owner}/{name}".lower())
        if repo is None:
            return None
        sha = repo.branches[repo.default_branch]
        files = repo.commits[sha]

        def file(_: Any, path: str) -> dict[str, Any] | None:
            if path not in files:
                return None
            text = files[path]
            cut = len(text.encode()) > self.graphql_text_limit
            blob = {
                "__typename": "Blob",
                "oid": blob_sha(text),
                "isBinary": False,
                "isTruncated": cut,
                "text": text[: self.graphql_text_limit] if cut else text,
            }
            return {"name": path.rsplit("/", 1)[-1], "path": path, "object": blob}

        commit = {"__typename": "Commit", "oid": sha, "file": file}
        return {"name": repo.name, "defaultBranchRef": {"name": repo.default_branch, "target": commit}}

    def _next_fault(self, method: str, template: str) -> Fault | None:
        queue = self.faults.get((method, template))
        return queue.pop(0) if queue else None

    def _authenticate(self, template: str, header: str) -> str | None:
        scheme, _, credential = header.partition(" ")
        if template == "/app-manifests/{code}/conversions":
            return None  # GitHub asks for no credentials: the one-time code is the secret
        if template.startswith("/app"):
            try:
                claims = jwt.decode(credential, self.public_key, algorithms=["RS256"])
            except jwt.PyJWTError as exc:
                return f"A JSON web token could not be decoded: {exc}"
            return None if str(claims.get("iss")) == str(self.app_id) else "JWT issuer is not this App"
        if scheme.lower() not in ("token", "bearer") or credential not in self.tokens:
            return "Bad credentials"
        return None

    # --- operations ----------------------------------------------------------------------

    def _handle(
        self, method: str, template: str, p: dict[str, str], query: dict[str, str], body: Any, headers: Any
    ) -> Response:
        handler = getattr(self, "op_" + _name(method, template), None)
        too_long = _too_long(method, template, body)
        if too_long is not None:
            self.violations.append(f"{method} {template}: body of {too_long:,} characters, over GitHub's {MAX_BODY:,}")
            return JSONResponse(
                {"message": "Validation Failed", "errors": [
                    {"resource": "Issue", "code": "custom", "field": "body",
                     "message": f"body is too long (maximum is {MAX_BODY} characters)"}]},
                status_code=422,
            )  # fmt: skip
        if handler is None:
            self.violations.append(f"{method} {template}: documented by GitHub but not implemented by the fake")
            return JSONResponse({"message": "not implemented by the fake"}, status_code=501)
        result: Response = handler(p, query, body, headers)
        return result

    def _repo(self, p: dict[str, str]) -> Repo | None:
        return self.repos.get(f"{p['owner']}/{p['repo']}".lower())

    def op_post_app_installations_access_tokens(self, p: dict[str, str], *_: Any) -> Response:
        token = f"ghs_{next(self._ids):036d}"
        self.tokens[token] = int(p["installation_id"])
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        sample = SPEC.sample(
            "POST", "/app/installations/{installation_id}/access_tokens", "201", token=token, expires_at=expires
        )
        return JSONResponse(sample, status_code=201)

    def op_post_issue_comment_reactions(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        comment_id = int(p["comment_id"])
        existing = [r for r in self.reactions if r["comment_id"] == comment_id and r["content"] == body["content"]]
        if existing:
            return JSONResponse(existing[0]["response"], status_code=200)
        response = SPEC.sample(
            "POST",
            "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
            "201",
            id=next(self._ids),
            content=body["content"],
        )
        self.reactions.append({"comment_id": comment_id, "content": body["content"], "response": response})
        return JSONResponse(response, status_code=201)

    # --- issues (the dashboard) --------------------------------------------------------------

    def _issue_json(self, issue: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in issue.items() if not k.startswith("_")}

    def add_issue(self, full_name: str, title: str, body: str, login: str, labels: list[str]) -> int:
        """An issue someone else opened (not through the App)."""
        return self._new_issue(full_name, title, body, {"login": login, "type": "User"}, None, labels)

    def _new_issue(
        self, full_name: str, title: str, body: str, user: dict[str, Any], app: dict[str, Any] | None, labels: list[str]
    ) -> int:
        number = next(self._ids)
        owner, repo = full_name.split("/")
        sample = SPEC.sample("POST", "/repos/{owner}/{repo}/issues", "201")
        self.issues[number] = {
            **sample, "id": number, "number": number, "title": title, "body": body, "state": "open",
            "user": {**(sample.get("user") or {}), **user}, "performed_via_github_app": app,
            "labels": [{"name": name} for name in labels],
            "html_url": f"https://github.com/{owner}/{repo}/issues/{number}", "_repo": full_name.lower(),
            "_history": [body],
        }  # fmt: skip
        return number

    def op_post_issues(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        if self._repo(p) is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        app = {"id": self.app_id, "slug": "runners-bot", "name": "runners-bot"}
        user = {"login": "runners-bot[bot]", "type": "Bot"}
        number = self._new_issue(
            f"{p['owner']}/{p['repo']}", body["title"], body.get("body", ""), user, app, body.get("labels", [])
        )
        return JSONResponse(self._issue_json(self.issues[number]), status_code=201)

    def op_get_issues(self, p: dict[str, str], query: dict[str, str], *_: Any) -> Response:
        full = f"{p['owner']}/{p['repo']}".lower()
        wanted = set(filter(None, query.get("labels", "").split(",")))
        found = [
            self._issue_json(i)
            for i in self.issues.values()
            if i["_repo"] == full and wanted <= {label["name"] for label in i["labels"]}
            and query.get("state", "open") in ("all", i["state"])
        ]  # fmt: skip
        found.sort(key=lambda i: -int(i["number"]))  # GitHub's default: newest first
        return paged(found, query, f"https://api.github.com/repos/{p['owner']}/{p['repo']}/issues")

    def op_patch_issue(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        issue = self.issues.get(int(p["issue_number"]))
        if issue is None or issue["_repo"] != f"{p['owner']}/{p['repo']}".lower():
            return JSONResponse({"message": "Not Found"}, status_code=404)
        if "body" in body:
            issue["_history"].append(body["body"])
            issue["body"] = body["body"]
        return JSONResponse(self._issue_json(issue))

    def op_get_repo(self, p: dict[str, str], *_: Any) -> Response:
        repo = self._repo(p)
        if repo is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        sample = SPEC.sample(
            "GET",
            "/repos/{owner}/{repo}",
            "200",
            name=repo.name,
            full_name=repo.full_name,
            default_branch=repo.default_branch,
        )
        return JSONResponse(sample)

    def op_post_issue_reactions(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        response = SPEC.sample(
            "POST",
            "/repos/{owner}/{repo}/issues/{issue_number}/reactions",
            "201",
            id=next(self._ids),
            content=body["content"],
        )
        self.reactions.append({"issue": int(p["issue_number"]), "content": body["content"], "response": response})
        return JSONResponse(response, status_code=201)

    def op_get_collaborator_permission(self, p: dict[str, str], *_: Any) -> Response:
        repo = self._repo(p)
        role = repo.permissions.get(p["username"]) if repo else None
        if role is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        folded = {"maintain": "write", "triage": "read"}.get(role, role)
        template = "/repos/{owner}/{repo}/collaborators/{username}/permission"
        return JSONResponse(SPEC.sample("GET", template, "200", permission=folded, role_name=role))

    def op_get_compare(self, p: dict[str, str], *_: Any) -> Response:
        """``base...head``: how head relates to base (ahead, behind, identical, diverged)."""
        repo = self._repo(p)
        base, _sep, head = p["basehead"].partition("...")
        if repo is None or base not in repo.commits or head not in repo.commits:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        head_line, base_line = self._ancestors(repo, head), self._ancestors(repo, base)
        if base == head:
            status, ahead, behind = "identical", 0, 0
        elif base in head_line:
            status, ahead, behind = "ahead", head_line.index(base), 0
        elif head in base_line:
            status, ahead, behind = "behind", 0, base_line.index(head)
        else:
            status, ahead, behind = "diverged", 1, 1
        template = "/repos/{owner}/{repo}/compare/{basehead}"
        fields = {"status": status, "ahead_by": ahead, "behind_by": behind, "total_commits": ahead}
        return JSONResponse(SPEC.sample("GET", template, "200", **{"merge_base_commit": {"sha": base}}) | fields)

    def _tree(self, repo: Repo, ref: str | None) -> dict[str, str] | None:
        ref = ref or repo.default_branch
        sha = repo.branches.get(ref, ref)
        return repo.commits.get(sha)

    def op_get_contents(self, p: dict[str, str], query: dict[str, str], _: Any, headers: Any) -> Response:
        """As GitHub answers: base64 content up to 1 MB; above it ``content: ""`` with
        ``encoding: "none"``; the raw media type serves the bytes up to 100 MB."""
        repo = self._repo(p)
        tree = self._tree(repo, query.get("ref")) if repo else None
        if tree is None or p["path"] not in tree:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        text = tree[p["path"]]
        if _wants_raw(headers):
            return self._raw_blob(text)
        etag = f'"{blob_sha(text)}"'
        if headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        data = text.encode()
        small = len(data) <= JSON_CONTENT_LIMIT
        sample = SPEC.sample(
            "GET",
            "/repos/{owner}/{repo}/contents/{path}",
            "200",
            type="file",
            encoding="base64" if small else "none",
            content=base64.b64encode(data).decode() if small else "",
            sha=blob_sha(text),
            path=p["path"],
            name=p["path"].rsplit("/", 1)[-1],
            size=len(data),
        )
        return JSONResponse(sample, headers={"etag": etag})

    def _raw_blob(self, text: str) -> Response:
        data = text.encode()
        if len(data) > self.raw_limit:
            problem = {"message": "This API returns blobs up to 100 MB in size.", "errors": [{"code": "too_large"}]}
            return JSONResponse(problem, status_code=403)
        return Response(data, media_type=RAW)

    def op_get_git_blob(self, p: dict[str, str], _: Any, __: Any, headers: Any) -> Response:
        repo = self._repo(p)
        text = repo.blobs.get(p["file_sha"]) if repo else None
        if text is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        if _wants_raw(headers):
            return self._raw_blob(text)
        data = text.encode()
        if len(data) > self.raw_limit:
            return self._raw_blob(text)
        sample = SPEC.sample("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}", "200")
        sample.update(content=base64.b64encode(data).decode(), encoding="base64", sha=p["file_sha"], size=len(data))
        return JSONResponse(sample)

    def op_put_contents(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        repo = self._repo(p)
        if repo is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        branch = body.get("branch") or repo.default_branch
        if branch not in repo.branches:
            return JSONResponse({"message": f"Branch {branch} not found"}, status_code=404)
        files = dict(repo.commits[repo.branches[branch]])
        current = files.get(p["path"])
        if current is not None and body.get("sha") != blob_sha(current):
            message = "sha wasn't supplied" if "sha" not in body else f"{p['path']} does not match {body.get('sha')}"
            return JSONResponse({"message": message}, status_code=409 if "sha" in body else 422)
        files[p["path"]] = base64.b64decode(body["content"]).decode()
        sha = self._commit(repo, files, repo.branches[branch])
        repo.branches[branch] = sha
        template = "/repos/{owner}/{repo}/contents/{path}"
        sample = SPEC.sample("PUT", template, "200") or {}
        sample["commit"] = {**sample.get("commit", {}), "sha": sha, "message": body["message"]}
        sample["content"] = {**(sample.get("content") or {}), "sha": blob_sha(files[p["path"]]), "path": p["path"]}
        return JSONResponse(sample, status_code=200)

    def _ref(self, repo: Repo, name: str) -> dict[str, Any]:
        sample = SPEC.sample("GET", "/repos/{owner}/{repo}/git/ref/{ref}", "200")
        sample.update(ref=f"refs/heads/{name}", object={"sha": repo.branches[name], "type": "commit", "url": ""})
        return dict(sample)

    def op_get_git_ref(self, p: dict[str, str], _: Any, __: Any, headers: Any) -> Response:
        repo = self._repo(p)
        name = p["ref"].removeprefix("heads/")
        if repo is None or name not in repo.branches:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        etag = f'"{repo.branches[name]}"'
        if headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        return JSONResponse(self._ref(repo, name), headers={"etag": etag})

    def op_post_git_refs(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        repo = self._repo(p)
        if repo is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        name = body["ref"].removeprefix("refs/heads/")
        if name in repo.branches:
            return JSONResponse({"message": "Reference already exists"}, status_code=422)
        if body["sha"] not in repo.commits:
            return JSONResponse({"message": "Object does not exist"}, status_code=422)
        repo.branches[name] = body["sha"]
        return JSONResponse(self._ref(repo, name), status_code=201)

    def op_patch_git_refs(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        repo = self._repo(p)
        name = p["ref"].removeprefix("heads/")
        if repo is None or name not in repo.branches:
            return JSONResponse({"message": "Reference does not exist"}, status_code=422)
        repo.branches[name] = body["sha"]
        return JSONResponse(self._ref(repo, name))

    def _pull_json(self, full: str, pull: dict[str, Any]) -> dict[str, Any]:
        sample = SPEC.sample("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", "200")
        sample.update({k: v for k, v in pull.items() if not k.startswith("_")})
        sample["html_url"] = f"https://github.com/{self.repos[full].full_name}/pull/{pull['number']}"
        return dict(sample)

    def op_post_pulls(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        repo = self._repo(p)
        if repo is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        full = repo.full_name.lower()
        head = body["head"].split(":")[-1]
        if head not in repo.branches:
            return JSONResponse(
                {"message": "Validation Failed", "errors": [{"field": "head", "code": "invalid"}]}, status_code=422
            )
        if any(x["head"]["ref"] == head and x["state"] == "open" for x in self.pulls[full]):
            return JSONResponse({"message": f"A pull request already exists for {repo.owner}:{head}."}, status_code=422)
        number = 100 + sum(len(v) for v in self.pulls.values())
        pull = {
            "number": number,
            "title": body["title"],
            "body": body.get("body"),
            "state": "open",
            "merged": False,
            "head": {"ref": head, "sha": repo.branches[head], "label": f"{repo.owner}:{head}"},
            "base": {"ref": body["base"], "sha": repo.branches[body["base"]]},
            "labels": [],
        }
        self.pulls[full].append(pull)
        return JSONResponse(self._pull_json(full, pull), status_code=201)

    def op_get_pulls(self, p: dict[str, str], query: dict[str, str], *_: Any) -> Response:
        repo = self._repo(p)
        if repo is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        full = repo.full_name.lower()
        state = query.get("state", "open")
        head = query.get("head", "").split(":")[-1]
        found = [
            x
            for x in self.pulls[full]
            if (state == "all" or x["state"] == state) and (not head or x["head"]["ref"] == head)
        ]
        url = f"https://api.github.com/repos/{p['owner']}/{p['repo']}/pulls"
        return paged([self._pull_json(full, x) for x in found], query, url)

    def op_patch_pull(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        repo = self._repo(p)
        full = repo.full_name.lower() if repo else ""
        pull = next((x for x in self.pulls.get(full, []) if x["number"] == int(p["pull_number"])), None)
        if pull is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        pull.update({k: v for k, v in body.items() if k in ("title", "body", "state")})
        return JSONResponse(self._pull_json(full, pull))

    def op_post_issue_labels(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        repo = self._repo(p)
        full = repo.full_name.lower() if repo else ""
        pull = next((x for x in self.pulls.get(full, []) if x["number"] == int(p["issue_number"])), None)
        names = body["labels"] if isinstance(body, dict) else body
        if pull is not None:
            pull["labels"] = sorted({*[label["name"] for label in pull["labels"]], *names})
            pull["labels"] = [{"name": n} for n in pull["labels"]]
        return JSONResponse(
            [{"name": n, "id": 1, "node_id": "x", "url": "", "color": "ededed", "default": False} for n in names]
        )

    def op_post_issue_comments(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        comment_id = next(self._ids)
        full = f"{p['owner']}/{p['repo']}".lower()
        template = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
        sample = SPEC.sample(
            "POST",
            template,
            "201",
            id=comment_id,
            body=body["body"],
            html_url=f"https://github.com/{p['owner']}/{p['repo']}/issues/{p['issue_number']}#issuecomment-{comment_id}",
        )
        # Installation tokens act as the App's bot user, and GitHub says which App wrote it.
        sample["user"] = {**(sample.get("user") or {}), "login": "runners-bot[bot]", "type": "Bot"}
        sample["performed_via_github_app"] = {"id": self.app_id, "slug": "runners-bot", "name": "runners-bot"}
        sample["_repo"], sample["_issue"] = full, int(p["issue_number"])
        self.comments[comment_id] = sample
        return JSONResponse({k: v for k, v in sample.items() if not k.startswith("_")}, status_code=201)

    def add_comment(self, full_name: str, number: int, body: str, login: str) -> int:
        """A comment someone else wrote on the thread (not through the App)."""
        comment_id = next(self._ids)
        self.comments[comment_id] = {
            "id": comment_id,
            "body": body,
            "user": {"login": login, "type": "User"},
            "performed_via_github_app": None,
            "_repo": full_name.lower(),
            "_issue": number,
            "_history": [body],
        }
        return comment_id

    def op_get_issue_comments(self, p: dict[str, str], query: dict[str, str], *_: Any) -> Response:
        """Oldest first, paged as GitHub pages them."""
        found = self.thread_comments(f"{p['owner']}/{p['repo']}", int(p["issue_number"]))
        url = f"https://api.github.com/repos/{p['owner']}/{p['repo']}/issues/{p['issue_number']}/comments"
        return paged([{k: v for k, v in c.items() if not k.startswith("_")} for c in found], query, url)

    def op_patch_issue_comment(self, p: dict[str, str], _: Any, body: Any, *__: Any) -> Response:
        comment = self.comments.get(int(p["comment_id"]))
        if comment is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        if (comment.get("performed_via_github_app") or {}).get("id") != self.app_id:
            # An App may edit only its own comments on issues it did not write.
            return JSONResponse({"message": "Resource not accessible by integration"}, status_code=403)
        comment.setdefault("_history", [comment["body"]]).append(body["body"])
        comment["body"] = body["body"]
        return JSONResponse({k: v for k, v in comment.items() if not k.startswith("_")})

    def op_get_org_runner_groups(self, p: dict[str, str], query: dict[str, str], *_: Any) -> Response:
        """GET /orgs/{org}/actions/runner-groups (GitHub's REST description,
        actions/list-self-hosted-runner-groups-for-org): ``{total_count, runner_groups}``,
        paged by ``page``/``per_page`` with a Link header as every GitHub list. Refusals as
        GitHub answers them: 404 for an organisation the credentials do not reach (org
        names are not case sensitive), 403 "Resource not accessible by integration" for
        credentials without the organisation's self-hosted runners permission."""
        groups = self.runner_groups.get(p["org"].lower())
        if groups is None:
            return JSONResponse({"message": "Not Found", "status": "404"}, status_code=404)
        if self.runner_groups_denied:
            return JSONResponse({"message": "Resource not accessible by integration", "status": "403"}, status_code=403)
        template = "/orgs/{org}/actions/runner-groups"
        example = SPEC.sample("GET", template, "200")["runner_groups"][0]
        items = [
            {**example, "id": number, "name": name, "default": number == 1} for number, name in enumerate(groups, 1)
        ]
        url = f"https://api.github.com/orgs/{p['org']}/actions/runner-groups"
        page = paged(items, query, url)
        body = {"total_count": len(items), "runner_groups": json.loads(bytes(page.body))}
        return JSONResponse(body, headers={k: v for k, v in page.headers.items() if k == "link"})

    def op_get_app_hook_deliveries(self, _: dict[str, str], query: dict[str, str], *__: Any) -> Response:
        per_page = int(query.get("per_page", 30))
        start = int(query.get("cursor", 0))
        page = self.deliveries[start : start + per_page]
        headers = {}
        if start + per_page < len(self.deliveries):
            headers["link"] = (
                f'<https://api.github.com/app/hook/deliveries?per_page={per_page}&cursor={start + per_page}>; rel="next"'
            )
        return JSONResponse(page, headers=headers)

    def op_post_app_hook_delivery_attempts(self, p: dict[str, str], *_: Any) -> Response:
        self.redelivered.append(int(p["delivery_id"]))
        return JSONResponse({}, status_code=202)


_NAMES = {
    ("POST", "/app/installations/{installation_id}/access_tokens"): "post_app_installations_access_tokens",
    ("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"): "post_issue_comment_reactions",
    ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission"): "get_collaborator_permission",
    ("GET", "/repos/{owner}/{repo}"): "get_repo",
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/reactions"): "post_issue_reactions",
    ("GET", "/repos/{owner}/{repo}/contents/{path}"): "get_contents",
    ("PUT", "/repos/{owner}/{repo}/contents/{path}"): "put_contents",
    ("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}"): "get_git_blob",
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"): "get_git_ref",
    ("POST", "/repos/{owner}/{repo}/git/refs"): "post_git_refs",
    ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"): "patch_git_refs",
    ("POST", "/repos/{owner}/{repo}/pulls"): "post_pulls",
    ("GET", "/repos/{owner}/{repo}/pulls"): "get_pulls",
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"): "patch_pull",
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"): "post_issue_labels",
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): "post_issue_comments",
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments"): "get_issue_comments",
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"): "patch_issue_comment",
    ("GET", "/app/hook/deliveries"): "get_app_hook_deliveries",
    ("GET", "/orgs/{org}/actions/runner-groups"): "get_org_runner_groups",
    ("GET", "/repos/{owner}/{repo}/compare/{basehead}"): "get_compare",
    ("POST", "/app-manifests/{code}/conversions"): "post_app_manifest_conversions",
    ("POST", "/repos/{owner}/{repo}/issues"): "post_issues",
    ("GET", "/repos/{owner}/{repo}/issues"): "get_issues",
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"): "patch_issue",
    ("POST", "/app/hook/deliveries/{delivery_id}/attempts"): "post_app_hook_delivery_attempts",
}


# Operations whose JSON ``body`` is an issue, pull request or comment body.
_BODIES = {
    ("POST", "/repos/{owner}/{repo}/issues"), ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("POST", "/repos/{owner}/{repo}/pulls"), ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"),
}  # fmt: skip


def _too_long(method: str, template: str, body: Any) -> int | None:
    """The body's length when GitHub would refuse it (422: over 65,536 characters)."""
    if (method, template) not in _BODIES or not isinstance(body, dict):
        return None
    text = body.get("body")
    return len(text) if isinstance(text, str) and len(text) > MAX_BODY else None


def paged(items: list[Any], query: dict[str, str], url: str) -> JSONResponse:
    """One page of a list as GitHub serves it: ``per_page`` (30 by default, 100 at most),
    ``page`` from 1, and a ``Link`` header naming the next and last pages."""
    per_page = max(1, min(int(query.get("per_page", 30)), MAX_PER_PAGE))
    page = max(1, int(query.get("page", 1)))
    last = max(1, -(-len(items) // per_page))
    headers = {}
    if page < last:
        headers["link"] = (
            f'<{url}?per_page={per_page}&page={page + 1}>; rel="next", <{url}?per_page={per_page}&page={last}>; rel="last"'
        )
    return JSONResponse(items[(page - 1) * per_page : page * per_page], headers=headers)


def _wants_raw(headers: Any) -> bool:
    return any(part.strip().startswith(RAW) for part in str(headers.get("accept", "")).split(","))


def _name(method: str, template: str) -> str:
    return _NAMES.get((method, template), "unknown")

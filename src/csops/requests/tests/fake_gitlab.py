"""A small GitLab on loopback for the sync tests: a real HTTP server (http.server in a thread)
answering the REST endpoints python-gitlab calls, with the state in memory, so the tests drive
python-gitlab over HTTP and nothing is mocked.

Endpoints: GET /api/v4/user; GET /api/v4/projects/:id; GET/POST /api/v4/projects/:id/issues;
PUT /api/v4/projects/:id/issues/:iid (labels, add_labels, remove_labels, state_event, …);
GET /api/v4/users?username=; GET/POST /api/v4/projects/:id/milestones. Labels need no endpoint:
GitLab makes a label the first time an issue carries it."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "glpat-test-token"


def _labels(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [item.strip() for item in items if item.strip()]


class FakeGitLab:
    def __init__(self, project: str = "cs/ops"):
        self.project = {"id": 42, "path_with_namespace": project, "name": project.rsplit("/", 1)[-1]}
        self.issues: dict[int, dict[str, Any]] = {}
        self.users = {name: {"id": n, "username": name, "name": name.title()}
                      for n, name in enumerate(["wes", "lena", "quinn", "rita", "gil"], start=100)}
        self.milestones: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []  # (method, path) of every request
        self.clock = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGitLab:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- what a person does in GitLab's own pages --

    def tick(self) -> str:
        self.clock += dt.timedelta(seconds=1)
        return self.clock.isoformat().replace("+00:00", "Z")

    def open_issue(self, title: str, *, author: str = "quinn", labels=(), description: str = "",
                   **fields) -> dict[str, Any]:
        with self.lock:
            return self._create({"title": title, "description": description, "labels": list(labels),
                                 **fields}, author=author)

    def relabel(self, iid: int, *, add=(), remove=(), state_event: str | None = None) -> dict[str, Any]:
        with self.lock:
            return self._update(iid, {"add_labels": list(add), "remove_labels": list(remove),
                                      "state_event": state_event})

    def writes(self) -> list[tuple[str, str]]:
        return [call for call in self.calls if call[0] != "GET"]

    # -- the API --

    def _create(self, data: dict[str, Any], *, author: str) -> dict[str, Any]:
        iid = max(self.issues, default=0) + 1
        now = self.tick()
        issue = {
            "id": 1000 + iid, "iid": iid, "project_id": self.project["id"], "title": data["title"],
            "description": data.get("description") or "", "state": "opened", "labels": [],
            "weight": None, "due_date": None, "milestone": None, "assignees": [], "assignee": None,
            "author": {"username": author}, "created_at": now, "updated_at": now, "closed_at": None,
            "web_url": f"{self.url}/{self.project['path_with_namespace']}/-/issues/{iid}",
        }
        self.issues[iid] = issue
        self._apply(issue, {**data, "labels": _labels(data.get("labels"))})
        issue["updated_at"] = now
        return issue

    def _update(self, iid: int, data: dict[str, Any]) -> dict[str, Any]:
        issue = self.issues[iid]
        before = json.dumps(issue, sort_keys=True)
        self._apply(issue, data)
        if json.dumps(issue, sort_keys=True) != before:
            issue["updated_at"] = self.tick()
        return issue

    def _apply(self, issue: dict[str, Any], data: dict[str, Any]) -> None:
        for name in ("title", "description", "weight", "due_date"):
            if name in data:
                issue[name] = data[name]
        if "labels" in data:
            issue["labels"] = sorted(set(_labels(data["labels"])))
        added = _labels(data.get("add_labels"))
        removed = set(_labels(data.get("remove_labels")))
        labels = [label for label in issue["labels"] if label not in removed]
        for label in added:  # a scoped label replaces its scope's other label, as in GitLab
            if "::" in label:
                scope = label.rsplit("::", 1)[0]
                labels = [x for x in labels if "::" not in x or x.rsplit("::", 1)[0] != scope]
            labels.append(label)
        issue["labels"] = sorted(set(labels))
        if "assignee_ids" in data:
            people = [u for u in self.users.values() if u["id"] in (data["assignee_ids"] or [])]
            issue["assignees"] = [{"id": u["id"], "username": u["username"]} for u in people]
            issue["assignee"] = issue["assignees"][0] if people else None
        if "milestone_id" in data:
            issue["milestone"] = next((m for m in self.milestones if m["id"] == data["milestone_id"]), None)
        if data.get("state_event") == "close" and issue["state"] != "closed":
            issue["state"], issue["closed_at"] = "closed", self.clock.isoformat()
        if data.get("state_event") == "reopen" and issue["state"] != "opened":
            issue["state"], issue["closed_at"] = "opened", None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                if not raw:
                    return {}
                if "json" in (self.headers.get("Content-Type") or ""):
                    return json.loads(raw)
                return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(raw).items()}

            def _route(self, method: str) -> None:
                parts = urlsplit(self.path)
                path, query = unquote(parts.path), {k: v[0] for k, v in parse_qs(parts.query).items()}
                with fake.lock:
                    fake.calls.append((method, path))
                    if self.headers.get("PRIVATE-TOKEN") != TOKEN:
                        return self._send(401, {"message": "401 Unauthorized"})
                    body = self._body() if method in ("POST", "PUT") else {}
                    status, answer = fake._answer(method, path, query, body)
                self._send(status, answer)

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_PUT(self) -> None:
                self._route("PUT")

        return Handler

    def _answer(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]):
        project = self.project
        base = f"/api/v4/projects/{project['path_with_namespace']}"
        if path.startswith(f"/api/v4/projects/{project['id']}"):
            path = base + path[len(f"/api/v4/projects/{project['id']}"):]
        if (method, path) == ("GET", "/api/v4/user"):
            return 200, {"id": 1, "username": "csops-bot"}
        if (method, path) == ("GET", "/api/v4/users"):
            user = self.users.get(query.get("username", ""))
            return 200, [user] if user else []
        if (method, path) == ("GET", base):
            return 200, project
        if (method, path) == ("GET", f"{base}/issues"):
            wanted = query.get("state", "all")
            return 200, [i for i in self.issues.values() if wanted in ("all", i["state"])]
        if (method, path) == ("POST", f"{base}/issues"):
            if not body.get("title"):
                return 400, {"message": "title is missing"}
            return 201, self._create(body, author="csops-bot")
        if method == "PUT" and path.startswith(f"{base}/issues/"):
            iid = int(path.rsplit("/", 1)[-1])
            if iid not in self.issues:
                return 404, {"message": "404 Not found"}
            return 200, self._update(iid, body)
        if (method, path) == ("GET", f"{base}/milestones"):
            return 200, [m for m in self.milestones if m["title"] == query.get("title", m["title"])]
        if (method, path) == ("POST", f"{base}/milestones"):
            milestone = {"id": 500 + len(self.milestones), "iid": len(self.milestones) + 1, **body}
            self.milestones.append(milestone)
            return 201, milestone
        if path.startswith("/api/v4/projects/"):
            return 404, {"message": "404 Project Not Found"}
        return 404, {"message": "404 Not found"}

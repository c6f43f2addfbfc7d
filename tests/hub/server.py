"""A local stand-in of the Hugging Face Hub: enough of its HTTP protocol for huggingface_hub,
transformers, peft and datasets as pinned (huggingface_hub 2.4, datasets 5.2), serving the
repositories that tests/hub/repos.py writes into a folder.

What each answer carries was read from the clients' sources, not guessed:
- huggingface_hub/file_download.py (get_hf_file_metadata, _get_metadata_or_catch_error): a
  HEAD on `resolve` needs X-Repo-Commit, an ETag (quotes stripped; it names the cache blob: the
  git blob sha1 of a plain file, the sha256 of an LFS file, as hf_hub_url's docstring says) and
  Content-Length; redirects are followed only when relative or to the same host
  (utils/_http.py, _httpx2_follow_hub_redirects_with_backoff). A GET may carry Range (resumed
  downloads, HfFileSystem reads).
- utils/_http.py (hf_raise_for_status): X-Error-Code EntryNotFound, RevisionNotFound,
  RepoNotFound and GatedRepo pick the exception; a 404 EntryNotFound with X-Repo-Commit lets the
  client cache the file's absence (.no_exist).
- hf_api.py: model_info / dataset_info (`/api/{type}s/{id}[/revision/{rev}]`, ModelInfo needs
  `id`, snapshot_download asserts `sha`), list_repo_tree (`/tree/{rev}[/{quoted path}]`,
  `recursive`, paging by a Link header, which is never sent here), get_paths_info (POST,
  form-encoded `paths`), list_models (`filter` repeated, `sort`, `limit`, `author`, `search`,
  `gated`; items need `id`).
No Xet header is ever sent (X-Xet-Hash, Link rel=xet-auth, X-Xet-Refresh-Route), nor `xetHash`
in a listing, so every client downloads over plain HTTP.

The folder holds manifest.json (repositories, refs, renames, tokens) and commits/{sha}/ with
each commit's files (repos.write_hub writes both).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

REPO_TYPES = {"models": "model", "datasets": "dataset"}
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf", ".parquet")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


@dataclass
class StoredFile:
    path: str  # inside the repository, / separated
    disk: Path
    size: int
    oid: str  # git blob sha1
    sha256: str | None  # LFS files only

    @property
    def etag(self) -> str:
        return self.sha256 or self.oid

    def tree_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "type": "file",
            "oid": self.oid,
            "size": self.size,
            "path": self.path,
        }
        if self.sha256:
            entry["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": 134}
        return entry


@dataclass
class Commit:
    sha: str
    files: dict[str, StoredFile]

    def folders(self) -> list[str]:
        found = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                found.add("/".join(parts[:depth]))
        return sorted(found)

    def folder_entry(self, path: str) -> dict[str, Any]:
        inside = sorted(f.oid for p, f in self.files.items() if p.startswith(path + "/"))
        oid = hashlib.sha1(("tree " + path + " ".join(inside)).encode()).hexdigest()
        return {"type": "directory", "oid": oid, "size": 0, "path": path}


@dataclass
class Repo:
    id: str
    type: str  # model or dataset
    meta: dict[str, Any]  # gated, downloads, likes, tags, cardData, library_name, ...
    refs: dict[str, str]  # branch or tag -> commit sha; main is the default branch
    commits: dict[str, Commit] = field(default_factory=dict)

    @property
    def gated(self) -> str | bool:
        return self.meta.get("gated", False)

    def resolve(self, revision: str) -> Commit | None:
        sha = self.refs.get(revision, revision)
        return self.commits.get(sha)

    def info(self, commit: Commit) -> dict[str, Any]:
        """The fields of /api/{type}s/{id}: what ModelInfo / DatasetInfo read."""
        info = {
            "_id": hashlib.sha1(self.id.encode()).hexdigest()[:24],
            "id": self.id,
            "author": self.id.split("/")[0],
            "sha": commit.sha,
            "private": False,
            "disabled": False,
            "gated": self.gated,
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
            **{k: v for k, v in self.meta.items() if k != "gated"},
        }
        return info

    def listing(self) -> dict[str, Any]:
        """One item of GET /api/models (the fields the hub's listing gives)."""
        keys = ("downloads", "likes", "tags", "library_name", "pipeline_tag", "createdAt")
        item = {"_id": hashlib.sha1(self.id.encode()).hexdigest()[:24], "id": self.id,
                "modelId": self.id, "private": False, "gated": self.gated}  # fmt: skip
        item.update({key: self.meta[key] for key in keys if key in self.meta})
        return item


def _hash_file(disk: Path, path: str) -> StoredFile:
    data = disk.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest() if is_lfs(path) else None
    return StoredFile(path, disk, len(data), git_blob_sha1(data), sha256)


def load_hub(root: Path) -> tuple[dict[tuple[str, str], Repo], dict[tuple[str, str], str], dict]:
    """Repositories by (type, id), renames by (type, old id) -> new id, and tokens from the
    folder repos.write_hub wrote."""
    manifest = json.loads((root / "manifest.json").read_text())
    repos: dict[tuple[str, str], Repo] = {}
    for entry in manifest["repos"]:
        repo = Repo(entry["id"], entry["type"], entry["meta"], entry["refs"])
        for sha in entry["commits"]:
            folder = root / "commits" / sha
            files = {
                p.relative_to(folder).as_posix(): _hash_file(p, p.relative_to(folder).as_posix())
                for p in sorted(folder.rglob("*"))
                if p.is_file()
            }
            repo.commits[sha] = Commit(sha, files)
        repos[(repo.type, repo.id)] = repo
    renames = {(r["type"], r["old"]): r["new"] for r in manifest.get("renamed", [])}
    return repos, renames, manifest.get("tokens", {})


class HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str, commit: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.commit = status, code, message, commit


class Redirect(Exception):
    def __init__(self, location: str):
        super().__init__(location)
        self.location = location


class HubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HubServer

    # -- plumbing ---------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base's name)
        pass  # requests are recorded in server.requests instead

    def do_HEAD(self) -> None:  # noqa: N802  (http.server's names)
        self._dispatch("HEAD")

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        self.server.record(method, self.path, self.headers)
        body = b""
        if method == "POST":
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            self._check_token()
            self._route(method, split.path, parse_qs(split.query), body)
        except Redirect as redirect:
            self._send_json(
                307, {"message": "Moved", "url": redirect.location}, method,
                {"Location": redirect.location},
            )  # fmt: skip
        except HubError as error:
            headers = {"X-Error-Message": error.message}
            if error.code:
                headers["X-Error-Code"] = error.code
            if error.commit:
                headers["X-Repo-Commit"] = error.commit
            self._send_json(error.status, {"error": error.message}, method, headers)

    def _send_json(self, status: int, payload: Any, method: str, headers: dict | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    # -- access -----------------------------------------------------------------------------

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        return auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else None

    def _check_token(self) -> None:
        """The hub refuses every request with a token it does not know."""
        token = self._token()
        if token is not None and token not in self.server.tokens:
            raise HubError(401, None, "Invalid credentials in Authorization header")

    def _repo(self, repo_type: str, repo_id: str, rest: str) -> Repo:
        """The repository, or a redirect for a renamed one, or RepoNotFound (401 without a
        token, 404 with one, as the hub answers)."""
        repo = self.server.repos.get((repo_type, repo_id))
        if repo is not None:
            return repo
        new = self.server.renames.get((repo_type, repo_id))
        if new is not None:
            raise Redirect(rest.replace(f"/{repo_id}", f"/{new}", 1))
        raise HubError(
            404 if self._token() else 401,
            "RepoNotFound",
            "Repository not found",
        )

    def _commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit

    def _check_gate(self, repo: Repo) -> None:
        if not repo.gated:
            return
        token = self._token()
        kind = "model" if repo.type == "model" else "dataset"
        if token is None:
            raise HubError(
                401, "GatedRepo",
                f"Access to {kind} {repo.id} is restricted. You must have access to it and be "
                "authenticated to access it. Please log in.",
            )  # fmt: skip
        granted = self.server.tokens[token]
        if granted != "*" and repo.id not in granted:
            raise HubError(
                403, "GatedRepo",
                f"Access to {kind} {repo.id} is restricted and you are not in the authorized list. "
                f"Visit https://huggingface.co/{repo.id} to ask for access.",
            )  # fmt: skip

    # -- routes -----------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) == 2 and method == "GET":
            return self._list_models(query, method)
        if parts[0] == "api" and len(parts) >= 4 and parts[1] in REPO_TYPES:
            repo_type = REPO_TYPES[parts[1]]
            repo_id = unquote(parts[2]) + "/" + unquote(parts[3])
            return self._api(method, repo_type, repo_id, parts[4:], query, body, path)
        repo_type = "model"
        if parts[0] == "datasets":
            repo_type, parts = "dataset", parts[1:]
        if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
            repo_id = unquote(parts[0]) + "/" + unquote(parts[1])
            revision = unquote(parts[3])
            filename = "/".join(unquote(p) for p in parts[4:])
            return self._resolve(method, repo_type, repo_id, revision, filename, path)
        raise HubError(404, None, "Sorry, we can't find the page you are looking for.")

    def _resolve(self, method, repo_type, repo_id, revision, filename, path) -> None:
        repo = self._repo(repo_type, repo_id, self.path)
        commit = self._commit(repo, revision)
        self._check_gate(repo)
        stored = commit.files.get(filename)
        if stored is None:
            raise HubError(404, "EntryNotFound", "Entry not found", commit=commit.sha)
        data = stored.disk.read_bytes()
        status, start, end = 200, 0, len(data)
        spec = self.headers.get("Range")
        if spec and method == "GET":
            status, start, end = self._range(spec, len(data), commit.sha)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start))
        self.send_header("ETag", f'"{stored.etag}"')
        self.send_header("X-Repo-Commit", commit.sha)
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.end_headers()
        if method == "GET":
            self.wfile.write(data[start:end])

    def _range(self, spec: str, size: int, commit: str) -> tuple[int, int, int]:
        unit, _, ranges = spec.partition("=")
        first, _, last = ranges.split(",")[0].strip().partition("-")
        try:
            if unit.strip() != "bytes":
                raise ValueError(unit)
            if first == "":  # the last N bytes
                start, end = max(size - int(last), 0), size
            else:
                start, end = int(first), min(int(last) + 1, size) if last else size
        except ValueError as error:
            raise HubError(416, None, f"bad Range {spec!r}", commit) from error
        if start >= size or start >= end:
            raise HubError(416, None, f"Range {spec!r} outside {size} bytes", commit)
        return 206, start, end

    def _api(self, method, repo_type, repo_id, rest, query, body, path) -> None:
        repo = self._repo(repo_type, repo_id, self.path)
        if not rest and method in ("GET", "HEAD"):
            return self._send_json(200, repo.info(self._commit(repo, "main")), method)
        if len(rest) == 2 and rest[0] == "revision" and method == "GET":
            commit = self._commit(repo, unquote(rest[1]))
            return self._send_json(200, repo.info(commit), method)
        if len(rest) >= 2 and rest[0] == "tree" and method == "GET":
            commit = self._commit(repo, unquote(rest[1]))
            folder = "/".join(unquote(p) for p in rest[2:]).strip("/")
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            return self._send_json(200, self._tree(commit, folder, recursive), method)
        if len(rest) == 2 and rest[0] == "paths-info" and method == "POST":
            commit = self._commit(repo, unquote(rest[1]))
            return self._send_json(200, self._paths_info(commit, body), method)
        raise HubError(404, None, "Sorry, we can't find the page you are looking for.")

    def _tree(self, commit: Commit, folder: str, recursive: bool) -> list[dict[str, Any]]:
        if folder and folder not in commit.folders():
            raise HubError(
                404, "EntryNotFound", f"{folder} does not exist on this revision", commit.sha
            )
        prefix = folder + "/" if folder else ""
        entries = []
        for path in commit.folders():
            rest = path[len(prefix) :] if path.startswith(prefix) else None
            if rest and (recursive or "/" not in rest):
                entries.append(commit.folder_entry(path))
        for path, stored in sorted(commit.files.items()):
            rest = path[len(prefix) :] if path.startswith(prefix) else None
            if rest and (recursive or "/" not in rest):
                entries.append(stored.tree_entry())
        return entries

    def _paths_info(self, commit: Commit, body: bytes) -> list[dict[str, Any]]:
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            paths = json.loads(body or b"{}").get("paths", [])
        else:
            paths = parse_qs(body.decode()).get("paths", [])
        found = []
        folders = set(commit.folders())
        for path in paths:
            path = path.strip("/")
            if path in commit.files:
                found.append(commit.files[path].tree_entry())
            elif path in folders:
                found.append(commit.folder_entry(path))
        return found

    def _list_models(self, query: dict[str, list[str]], method: str) -> None:
        """GET /api/models: repositories carrying every `filter` tag, by `sort` descending."""
        wanted = query.get("filter", [])
        models = [r for (kind, _), r in self.server.repos.items() if kind == "model"]
        models = [r for r in models if all(tag in r.meta.get("tags", []) for tag in wanted)]
        if "author" in query:
            models = [r for r in models if r.id.split("/")[0] == query["author"][0]]
        if "search" in query:
            models = [r for r in models if query["search"][0].lower() in r.id.lower()]
        if "gated" in query:
            gated = query["gated"][0].lower() == "true"
            models = [r for r in models if bool(r.gated) == gated]
        key = query.get("sort", [None])[0]
        if key:
            models.sort(key=lambda r: (r.meta.get(key) or 0, r.id), reverse=True)
        if "limit" in query:
            models = models[: int(query["limit"][0])]
        self._send_json(200, [r.listing() for r in models], method)


class HubServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, port: int = 0):
        self.repos, self.renames, self.tokens = load_hub(root)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", port), HubHandler)

    def record(self, method: str, path: str, headers: Any) -> None:
        with self._lock:
            self.requests.append(
                {"method": method, "path": path, "authorized": "Authorization" in headers}
            )


class StandIn:
    """The stand-in, run in a thread: `url` is what HF_ENDPOINT takes. `stopped()` closes it
    for a while (the same port comes back afterwards, so clients keep their endpoint)."""

    def __init__(self, root: Path):
        self.root = root
        self._server: HubServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self._server.requests if self._server else []

    def start(self) -> None:
        self._server = HubServer(self.root, self.port)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    @contextlib.contextmanager
    def stopped(self):
        self.stop()
        try:
            yield
        finally:
            self.start()

    def resolve_url(self, repo_id: str, filename: str, revision: str = "main", dataset=False):
        prefix = "datasets/" if dataset else ""
        return f"{self.url}/{prefix}{repo_id}/resolve/{quote(revision, safe='')}/{quote(filename)}"

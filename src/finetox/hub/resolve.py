"""A hub id and revision resolved to the commit that loads, online or from the local cache, and
the one-line message a user can act on when the hub refuses.

Loading by commit rather than by revision makes what is recorded what loaded (transformers 5
keeps no commit on a loaded model). Online, the resolved revision is written to the cache's
refs/ as huggingface_hub does for a revision it downloads by name: every later download is
pinned to the commit and writes none, so without it a second run offline (HF_HUB_OFFLINE=1)
could not find which commit `main` was. Only huggingface_hub is imported here (no torch): the
preflight runs where the models never load.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetox.errors import InputError

COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Resolved:
    id: str  # as the config names it (and as the cache files it)
    kind: str  # model or dataset
    revision: str | None  # as the config names it (None: the default branch)
    commit: str
    found_as: str  # the id the hub answered under: a renamed repository's new name
    info: Any = field(default=None, compare=False, repr=False)  # the hub's answer (online)

    @property
    def renamed(self) -> bool:
        return self.found_as != self.id


def hub_token() -> str | None:
    """The hub token from the environment, if any (never logged)."""
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def what(repo_id: str, revision: str | None = None, kind: str = "model", context=None) -> str:
    """How a message names a source: kind, id, where the config names it (`context`: "slug
    llama3.1-8b-instruct", "prompts.rtp"), the revision."""
    named = f"{kind} {repo_id!r}"
    if context:
        named += f" ({context})"
    return named + (f" at revision {revision!r}" if revision else "")


def repo_url(repo_id: str, kind: str = "model") -> str:
    return f"{endpoint()}/{'datasets/' if kind == 'dataset' else ''}{repo_id}"


# ---------------------------------------------------------------------------------------------
# The cache


def cache_folder(repo_id: str, kind: str = "model") -> Path:
    """Where huggingface_hub keeps a repository's files (under HF_HOME's hub/ by default)."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    return Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type=kind)


def cached_commit(repo_id: str, revision: str | None = None, kind: str = "model") -> str | None:
    """The commit the cache holds for `revision`: the snapshot of a commit named as such, else
    what refs/{revision} (main by default) says; None when the cache has neither."""
    folder = cache_folder(repo_id, kind)
    if revision and COMMIT.match(revision):
        return revision if (folder / "snapshots" / revision).is_dir() else None
    ref = folder / "refs" / (revision or "main")
    try:
        commit = ref.read_text().strip()
    except OSError:
        return None
    return commit if (folder / "snapshots" / commit).is_dir() else None


def remember_ref(repo_id: str, revision: str | None, commit: str, kind: str = "model") -> None:
    """refs/{revision} -> commit in the cache, so an offline run finds the same commit. A
    cache that cannot be written only loses that (the load itself needs no ref)."""
    name = revision or "main"
    if name == commit:
        return
    ref = cache_folder(repo_id, kind) / "refs" / name
    with contextlib.suppress(OSError):
        if ref.is_file() and ref.read_text().strip() == commit:
            return
        ref.parent.mkdir(parents=True, exist_ok=True)
        partial = ref.with_name(f"{ref.name}.{os.getpid()}.tmp")
        partial.write_text(commit)
        os.replace(partial, ref)


# ---------------------------------------------------------------------------------------------
# Resolving


def resolve(
    repo_id: str,
    revision: str | None = None,
    *,
    kind: str = "model",
    context: str | None = None,
    token: str | None = None,
) -> Resolved:
    """The commit `revision` (default: the default branch) of `repo_id` is at now, or offline
    the one the cache holds. Raises InputError with one line naming the source."""
    token = token or hub_token()
    if offline():
        commit = cached_commit(repo_id, revision, kind)
        if commit is None:
            raise InputError(
                f"{what(repo_id, revision, kind, context)}: not in the local cache "
                f"({cache_folder(repo_id, kind)}) and HF_HUB_OFFLINE is set; run once online "
                "(finetox preflight lists what will be downloaded)"
            )
        return Resolved(repo_id, kind, revision, commit, repo_id)
    from huggingface_hub import HfApi

    try:
        info = HfApi().repo_info(repo_id, revision=revision, repo_type=kind, token=token)
    except Exception as error:  # noqa: BLE001  (hub and network errors: one line each)
        problem = hub_problem(error, repo_id, revision, kind, context)
        raise InputError(problem or f"{what(repo_id, revision, kind, context)}: {error}") from error
    remember_ref(repo_id, revision, info.sha, kind)
    return Resolved(repo_id, kind, revision, info.sha, getattr(info, "id", None) or repo_id, info)


def hub_problem(
    error: BaseException,
    repo_id: str,
    revision: str | None = None,
    kind: str = "model",
    context: str | None = None,
) -> str | None:
    """One line for an error the hub or the network caused (anywhere in the error's chain, as
    transformers and datasets wrap them), saying what to do; None for any other error."""
    from huggingface_hub import errors

    named = what(repo_id, revision, kind, context)
    for cause in _chain(error):
        status = getattr(getattr(cause, "response", None), "status_code", None)
        if isinstance(cause, errors.GatedRepoError):
            if status == 403:
                return (
                    f"{named}: gated, and the account of HF_TOKEN has not been granted access; "
                    f"accept the license at {repo_url(repo_id, kind)} with that account"
                )
            return (
                f"{named}: gated; set HF_TOKEN to a token of an account that accepted the "
                f"license at {repo_url(repo_id, kind)}"
            )
        if isinstance(cause, errors.RevisionNotFoundError):
            return (
                f"{named}: the repository has no revision {revision!r}; name a branch, tag or "
                f"commit of {repo_url(repo_id, kind)}"
            )
        if isinstance(cause, errors.RepositoryNotFoundError):
            if status == 401 and hub_token() and "credentials" in str(cause).lower():
                return f"{named}: the hub refuses the token in HF_TOKEN (invalid credentials)"
            hint = "" if hub_token() else ", or private (then set HF_TOKEN)"
            return (
                f"{named}: no such repository at {endpoint()} (check the id: removed, or "
                f"renamed without a redirect{hint})"
            )
        if isinstance(cause, errors.OfflineModeIsEnabled) or (
            isinstance(cause, errors.LocalEntryNotFoundError) and offline()
        ):
            return (
                f"{named}: not in the local cache and HF_HUB_OFFLINE is set; run once online "
                "(finetox preflight lists what will be downloaded)"
            )
        if isinstance(cause, errors.HfHubHTTPError) and status is not None:
            return f"{named}: the hub answered {status}: {str(cause).splitlines()[0]}"
        if _is_connection_error(cause):
            return (
                f"{named}: the hub at {endpoint()} cannot be reached ({type(cause).__name__}); "
                "check the network, or set HF_HUB_OFFLINE=1 to load from the local cache"
            )
    return None


def _chain(error: BaseException):
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_connection_error(error: BaseException) -> bool:
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    return any(cls.__name__ in ("ConnectError", "ConnectTimeout") for cls in type(error).__mro__)

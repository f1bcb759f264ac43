"""Debug files fetched by build id from debuginfod servers, through elfutils' `debuginfod-find`.

Only when `DEBUGINFOD_URLS` names a server and `debuginfod-find` is installed. The client keeps
what it fetched in its own cache (`$DEBUGINFOD_CACHE_PATH`, by default
`~/.cache/debuginfod_client`, shared with gdb and others), so a second run does not download
again. Each query is time-bound; after a query that timed out or could not run, no more are
made in this process (the server is down or slow, and every stripped library would wait again).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

_BUILD_ID_CHARS = frozenset("0123456789abcdef")


@dataclass
class _State:
    answers: dict[str, tuple[str, str]]  # build id -> (path, problem)
    given_up: str = ""  # why no more queries are made in this process


_state = _State(answers={})


def enabled() -> bool:
    """Whether debuginfod is asked at all: DEBUGINFOD_URLS is set and the client installed."""
    return bool(os.environ.get("DEBUGINFOD_URLS", "").strip()) and shutil.which("debuginfod-find") is not None


def fetch_debuginfo(build_id: str, timeout_s: float) -> tuple[str, str]:
    """The path of the debug file for build_id, fetched by `debuginfod-find debuginfo BUILD_ID`
    (or found in its cache), and "" as the problem; or "" and why not (once per cause: a
    problem already reported by an earlier query of this process comes back as "")."""
    build_id = build_id.lower()
    if not build_id or not set(build_id) <= _BUILD_ID_CHARS or not enabled():
        return "", ""
    known = _state.answers.get(build_id)
    if known is not None:
        return known
    if _state.given_up:
        return "", ""
    exe = shutil.which("debuginfod-find") or "debuginfod-find"
    env = dict(os.environ)
    # the client's own transfer timeout (seconds without progress), below ours
    env.setdefault("DEBUGINFOD_TIMEOUT", str(max(1, int(timeout_s))))
    answer: tuple[str, str]
    try:
        proc = subprocess.run([exe, "debuginfo", build_id], capture_output=True, text=True, env=env,
                              timeout=timeout_s, check=False, errors="surrogateescape", stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        _state.given_up = f"debuginfod-find did not answer within {timeout_s:.0f} s"
        answer = ("", f"{_state.given_up} for build id {build_id}; no more debuginfod queries in this run")
    except OSError as e:
        _state.given_up = f"cannot run {exe}: {e.strerror or e}"
        answer = ("", _state.given_up)
    else:
        path = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        if proc.returncode == 0 and path and os.path.isfile(path):
            answer = (path, "")
        else:
            err = proc.stderr.strip().splitlines()
            why = err[-1] if err else f"exit status {proc.returncode}"
            answer = ("", f"debuginfod has no debug file for build id {build_id} ({why})")
    _state.answers[build_id] = answer
    return answer

"""Shared fixtures: the examples built and profiled with tcmalloc, the reference pprof built
from Debian's sources, and a runner for the heapviz command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@dataclass
class Result:
    rc: int
    out: str
    err: str


def run_heapviz(*args: str, stdin: bytes | None = None, cwd: str | Path | None = None,
                env: dict[str, str] | None = None, timeout: float = 300) -> Result:
    """Run `python -m heapviz ARGS` as a user would; return exit code, stdout, stderr."""
    full_env = dict(os.environ)
    full_env.pop("PPROF_BINARY_PATH", None)
    full_env.pop("HEAPVIZ_SYMBOL_PATH", None)
    full_env.pop("HEAPVIZ_CACHE_DIR", None)
    full_env["HEAPVIZ_NO_CACHE"] = "1"  # tests see the symbolizer's own behaviour unless they ask
    if env:
        full_env.update(env)
    proc = subprocess.run([sys.executable, "-m", "heapviz", *args], input=stdin, capture_output=True,
                          cwd=cwd, env=full_env, timeout=timeout, check=False)
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


@pytest.fixture(scope="session")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The programs in examples/ compiled with tcmalloc and run: their profiles and binaries."""
    out = tmp_path_factory.mktemp("examples")
    subprocess.run(["make", "-s", "-C", str(ROOT / "examples"), f"OUT={out}"], check=True,
                   stdout=subprocess.DEVNULL, timeout=600)
    return out


@pytest.fixture(scope="session")
def cxx_reports(examples: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`heapviz report` of the cxx example as HTML and PDF, made once (tests only read them)."""
    out = tmp_path_factory.mktemp("cxx-reports")
    html, pdf = out / "leak.html", out / "leak.pdf"
    r = run_heapviz("report", str(examples / "cxx.0002.heap"), "-o", str(html), "-o", str(pdf))
    assert r.rc == 0, r.err
    return html, pdf


def go_build(example: str, out: Path) -> Path:
    """examples/EXAMPLE/main.go built with Debian's Go (GOPATH mode, no network) into out/EXAMPLE."""
    go = shutil.which("go")
    assert go, "go (Debian package golang-go) is required"
    env = dict(os.environ, GO111MODULE="off", GOCACHE=str(out / "gocache"), HOME=str(out), GOFLAGS="")
    binary = out / example
    subprocess.run([go, "build", "-o", str(binary), str(ROOT / "examples" / example / "main.go")],
                   check=True, env=env, cwd=str(out), timeout=600, capture_output=True)
    return binary


@pytest.fixture(scope="session")
def expected() -> dict:
    return json.loads((ROOT / "examples" / "expected.json").read_text())


@pytest.fixture(scope="session")
def pprof(tmp_path_factory: pytest.TempPathFactory) -> str:
    """google/pprof built offline from Debian's golang-github-google-pprof-dev sources."""
    out = tmp_path_factory.mktemp("pprof")
    exe = out / "pprof"
    env = dict(os.environ, GOPATH="/usr/share/gocode", GO111MODULE="off", GOFLAGS="-mod=mod",
               GOCACHE=str(ROOT / "build" / "gocache"), HOME=str(out))
    env.pop("GOFLAGS")
    subprocess.run(["go", "build", "-o", str(exe), "github.com/google/pprof"], check=True, env=env,
                   cwd=str(out), timeout=900, capture_output=True)
    return str(exe)


@pytest.fixture(scope="session")
def perl_pprof() -> str:
    exe = shutil.which("google-pprof")
    assert exe, "google-pprof (Debian package google-perftools) is required"
    return exe

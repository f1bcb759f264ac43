"""The benchmark harness (bench/run.py) still runs end to end: tiny sizes, one run each, no
reference tools. It checks the harness and its table, never a speed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not (shutil.which("gcc") and Path("/usr/include/gperftools/heap-checker.h").exists()),
    reason="needs gcc and libgoogle-perftools-dev (make setup)",
)


def test_quick_bench_prints_heapviz_rows(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "| profile | command | runs | wall s | peak RSS MiB |" in out
    for command in ("top", "graph svg", "report pdf", "report html"):
        rows = [ln for ln in out.splitlines() if ln.startswith("| real ") and f"| `{command}` |" in ln]
        assert len(rows) == 1, (command, out)  # the quick size, run successfully
    assert "| synthetic 3k lines | `top` |" in out
    series = [ln for ln in out.splitlines() if ln.startswith("| series of ") and "| `report html` |" in ln]
    assert len(series) == 1 and "| 1 |" in series[0], out  # the heap profiler's dumps, reported as one series
    assert "`go tool pprof" not in out  # reference tools skipped
    assert (tmp_path / "results.md").read_text().strip() == out.strip()
    results = json.loads((tmp_path / "results.json").read_text())
    runs = results["heapviz"]["real 1k"]["report pdf"]
    assert runs[0]["status"] == "ok" and runs[0]["wall_s"] > 0 and runs[0]["rss_mb"] > 0
    assert "parse" in runs[0]["phases"]
    assert results["profiles"][0]["stacks"] > 900  # the generated program leaks along distinct stacks
    fleet = [ln for ln in out.splitlines() if ln.startswith("| 24 | ")]  # issue 20's fleet, at the quick size
    assert [ln.split(" | ")[1] for ln in fleet] == ["serial", "jobs 2", "dask 2 workers"], out
    dask = [r for r in results["fleet"] if r["mode"] == "dask 2 workers"]
    assert [r["status"] for r in results["fleet"]] == ["ok"] * 6
    assert len(dask) == 2 and all(len(r["worker_rss_mb"]) == 2 and min(r["worker_rss_mb"]) > 0 for r in dask)
    # issue 15's explorer figures: the largest profile's page in headless Chromium, nothing fetched
    explorer = results["explorer"]
    assert "| HTML size |" in out and "| a refine shown" in out
    assert explorer["html_mb"] > 0 and explorer["first_paint_s"] > 0 and explorer["refine_s"] > 0
    assert explorer["requests"] == [] and explorer["errors"] == []
    assert all(r["nodes"] > 0 and "select" in r["phases"] for r in explorer["refines"])

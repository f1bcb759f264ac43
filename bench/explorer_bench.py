"""The HTML report's explorer in headless Chromium (issue 15's budget): the page's size, its first
paint, when its data is decoded and its state computed, and how long a refine takes until it is
shown (the views recomputed, the graph laid out by Graphviz and in the page, one frame drawn),
with the explorer's own per-phase times (window.heapvizExplorer.timings) and the CPU time the
page's main thread spent on it (Chromium's ThreadTime: on a shared machine, the wall time grows
with the load, this much less).

    python bench/explorer_bench.py build/bench/leak.html [--runs 5]

A benchmark, not a test: it asserts nothing about speed. bench/run.py calls measure() on the
largest profile's report.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
BUDGET = {"html_mb": 8.0, "first_paint_s": 2.0, "refine_s": 1.0}

# one refine: a state from the graph the page shows first, then its time until drawn
REFINE_JS = """async (step) => {
  const X = window.heapvizExplorer, g = X.current().graph, s = X.state();
  const name = i => g.nodes[Math.min(i, g.nodes.length - 1)].name;
  const o = {};
  if (step.kind === 'sample_index') { o.sample_index = (s.sample_index + 1) % X.D.sample_types.length; }
  else if (step.kind === 'granularity') { o.granularity = step.value; }
  else { o[step.kind] = X.regexFor(name(step.node)); }
  const t0 = performance.now();
  const got = await X.refine(o);
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  const ms = performance.now() - t0;
  return {ms: ms, nodes: got ? got.nodes.length : -1, phases: X.timings};
}"""
STEPS: list[dict[str, Any]] = [{"kind": "focus", "node": 3}, {"kind": "hide", "node": 1}, {"kind": "sample_index"},
         {"kind": "ignore", "node": 5}, {"kind": "show", "node": 2}, {"kind": "focus", "node": 8}]


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("explorer_bench: Debian's chromium is required (apt-get install chromium)")


def _load(browser: Any, path: Path) -> dict[str, Any]:
    page = browser.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    started = time.monotonic()
    page.goto(path.resolve().as_uri(), timeout=120_000)
    page.wait_for_load_state("load")
    load_s = time.monotonic() - started
    page.evaluate("window.heapvizExplorer.ready", [])
    ready_s = time.monotonic() - started
    paint = page.evaluate("() => { const p = performance.getEntriesByName('first-contentful-paint')[0]; "
                          "return p ? p.startTime / 1000 : null; }")
    decoded = page.evaluate("window.heapvizExplorer.loadTimes || {}")
    return {"page": page, "load_s": load_s, "ready_s": ready_s, "first_paint_s": paint, "decode": decoded,
            "requests": requests, "errors": errors}


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _thread_time(cdp: Any) -> float:
    return float(next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "ThreadTime"))


def _refine(page: Any, cdp: Any, step: dict[str, Any]) -> dict[str, Any]:
    """One refine step and its main-thread CPU time; then the report's state again."""
    before = _thread_time(cdp)
    got: dict[str, Any] = page.evaluate(REFINE_JS, step)
    got["cpu_ms"] = (_thread_time(cdp) - before) * 1000
    page.evaluate("window.heapvizExplorer.reset()")
    return got


def measure(path: Path, runs: int = 3) -> dict[str, Any]:
    """The page's figures: size, first paint, load, ready (median over `runs` loads) and each
    refine step's time (median over `runs` repetitions), with the phases of the median refine."""
    from playwright.sync_api import sync_playwright

    loads: list[dict[str, Any]] = []
    refines: list[dict[str, Any]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            for _ in range(max(runs, 1)):
                got = _load(browser, path)
                page = got.pop("page")
                loads.append(got)
                if not refines:  # the refines on one page: every run of each step there
                    cdp = page.context.new_cdp_session(page)
                    cdp.send("Performance.enable")
                    for step in STEPS:
                        refines.append({"step": step, "runs": [_refine(page, cdp, step) for _ in range(runs)]})
                page.close()
        finally:
            browser.close()
    out: dict[str, Any] = {
        "html_mb": path.stat().st_size / 1e6,
        "first_paint_s": _median([x["first_paint_s"] for x in loads if x["first_paint_s"] is not None]),
        "load_s": _median([x["load_s"] for x in loads]),
        "ready_s": _median([x["ready_s"] for x in loads]),
        "decode": loads[0]["decode"],
        "requests": sorted({u for x in loads for u in x["requests"] if not u.startswith("file://")}),
        "errors": sorted({e for x in loads for e in x["errors"]}),
        "refines": [],
    }
    for r in refines:
        runs_ms = sorted(r["runs"], key=lambda x: x["ms"])
        mid = runs_ms[len(runs_ms) // 2]
        out["refines"].append({"step": r["step"], "median_s": mid["ms"] / 1000, "nodes": mid["nodes"],
                               "all_s": [round(x["ms"] / 1000, 3) for x in r["runs"]], "phases": mid["phases"],
                               "cpu_s": _median([x["cpu_ms"] / 1000 for x in r["runs"]])})
    out["refine_s"] = _median([r["median_s"] for r in out["refines"]])
    return out


def markdown(res: dict[str, Any]) -> list[str]:
    """The figures as a markdown table, each against its budget."""
    def ok(key: str) -> str:
        v = res.get(key)
        return "" if v is None else ("met" if v <= BUDGET[key] else "NOT met")
    lines = ["| explorer (headless Chromium) | value | budget | |", "|---|---:|---:|---|",
             f"| HTML size | {res['html_mb']:.2f} MB | {BUDGET['html_mb']} MB | {ok('html_mb')} |",
             f"| first contentful paint | {res['first_paint_s']:.2f} s | {BUDGET['first_paint_s']} s | "
             f"{ok('first_paint_s')} |",
             f"| load event | {res['load_s']:.2f} s | | |",
             f"| data decoded and the first state computed | {res['ready_s']:.2f} s | | |",
             f"| a refine shown (median of the steps' medians) | {res['refine_s']:.2f} s | {BUDGET['refine_s']} s | "
             f"{ok('refine_s')} |"]
    lines.append("| (each step: wall time, main-thread CPU time, the page's phases) | | | |")
    for r in res["refines"]:
        step = ", ".join(f"{k}={v}" for k, v in r["step"].items())
        phases = ", ".join(f"{k} {v:.0f} ms" for k, v in (r["phases"] or {}).items() if isinstance(v, (int, float)))
        lines.append(f"| refine {step} ({r['nodes']} nodes) | {r['median_s']:.2f} s | CPU {r['cpu_s']:.2f} s "
                     f"| {phases} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", type=Path, help="an HTML report with its explorer")
    ap.add_argument("--runs", type=int, default=3, help="page loads and repetitions of each refine (median)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    res = measure(args.html, args.runs)
    print("\n".join(markdown(res)))
    if res["requests"] or res["errors"]:
        print(f"requests: {res['requests']}\nerrors: {res['errors']}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

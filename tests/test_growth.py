"""Leak growth on the examples' real dump series: diffs, suspects, JSON summary, thresholds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jsonschema
import pytest

from conftest import ROOT, run_heapviz
from heapviz.growth import score_series

SCHEMA = json.loads((ROOT / "heapviz" / "report" / "summary.schema.json").read_text())
STEADY = ["leak_in_worker_b", "leak_in_worker_a", "leak_in_worker_c"]


def dumps(examples):
    return [str(examples / f"threads.000{i}.heap") for i in (1, 2, 3, 4)]


def top(*args):
    r = run_heapviz("top", "--format", "json", *args)
    assert r.rc == 0, r.err
    return {row["name"]: row for row in json.loads(r.out)["rows"]}, json.loads(r.out)


@pytest.fixture(scope="module")
def series_summary(examples, tmp_path_factory):
    out = tmp_path_factory.mktemp("series") / "summary.json"
    r = run_heapviz("report", *reversed(dumps(examples)), "-o", str(out))
    assert r.rc == 0, r.err
    return json.loads(out.read_text())


def test_suspects_name_the_steady_leaks_first(series_summary, expected):
    jsonschema.validate(series_summary, SCHEMA)
    truth = expected["threads"]["dumps"]
    files = [f"threads.000{i}.heap" for i in (1, 2, 3, 4)]
    assert [os.path.basename(d["file"]) for d in series_summary["dumps"]] == files
    assert [d["inuse_space"] for d in series_summary["dumps"]] == [expected["threads"]["total_inuse"][f]
                                                                  for f in files]
    sus = series_summary["suspects"]
    assert [s["function"] for s in sus[:3]] == STEADY  # ranked by steadiness, then growth
    for s in sus[:3]:
        assert s["inuse_space"] == [truth[f].get(s["function"], 0) for f in files]
        assert s["growth_bytes"] == s["inuse_space"][-1] - s["inuse_space"][0]
        assert s["steady"] and s["score"] > 0.6
        assert s["stack"][0] == s["function"] and "worker" in s["stack"]
    by_fn = {s["function"]: s for s in sus}
    # a one-off spike ranks below every steady leak; memory allocated and freed is no suspect
    assert by_fn["spike_in_main"]["score"] == 0 and by_fn["spike_in_main"]["rank"] > 3
    assert by_fn["setup_tables"]["score"] == 0 and not by_fn["setup_tables"]["steady"]
    assert "churn_in_worker_d" not in by_fn


def test_score_orders_steady_above_step_and_spike():
    steady = score_series([10, 20, 30, 40], 60)
    step = score_series([0, 30, 30, 30], 60)
    spike = score_series([0, 100, 100, 0], 60)
    shrinking = score_series([40, 30, 20, 10], 60)
    assert 1 >= steady > step > spike == shrinking == 0


def test_diff_equals_difference_of_tops(examples):
    new, _ = top(str(examples / "threads.0004.heap"))
    old, _ = top(str(examples / "threads.0002.heap"))
    diff, _ = top(str(examples / "threads.0004.heap"), "--base", str(examples / "threads.0002.heap"))
    for name in set(new) | set(old):
        want_flat = new.get(name, {}).get("flat", 0) - old.get(name, {}).get("flat", 0)
        want_cum = new.get(name, {}).get("cum", 0) - old.get(name, {}).get("cum", 0)
        got = diff.get(name, {"flat": 0, "cum": 0})
        assert (got["flat"], got["cum"]) == (want_flat, want_cum), name
    assert diff["spike_in_main"]["flat"] == -1048576


def test_two_runs_with_different_aslr_diff_to_zero(examples, tmp_path):
    runs = []
    for i in (1, 2):
        d = tmp_path / f"run{i}"
        d.mkdir()
        subprocess.run([str(examples / "threads_series"), str(d / "threads")], check=True, capture_output=True)
        runs.append(d / "threads.0004.heap")
    first_stack = [p.read_text().splitlines()[1].split("@")[1] for p in runs]
    assert first_stack[0] != first_stack[1]  # ASLR moved the code
    rows, doc = top(str(runs[1]), "--base", str(runs[0]))
    assert doc["total"] == 0 and all(r["flat"] == 0 and r["cum"] == 0 for r in rows.values())
    r = run_heapviz("report", str(runs[1]), "--base", str(runs[0]), "-o", str(tmp_path / "d.json"))
    summary = json.loads((tmp_path / "d.json").read_text())
    jsonschema.validate(summary, SCHEMA)
    assert r.rc == 0 and summary["mode"] == "base" and len(summary["dumps"]) == 2
    assert all(s["growth_bytes"] == 0 for s in summary["suspects"])


def test_diff_graph_colours_and_drop_negative(examples):
    base = ("--base", str(examples / "threads.0003.heap"))
    r = run_heapviz("graph", str(examples / "threads.0004.heap"), *base, "--format", "json")
    nodes = {n["name"]: n for n in json.loads(r.out)["nodes"]}
    assert nodes["spike_in_main"]["flat"] == -1048576 and nodes["leak_in_worker_a"]["flat"] == 10000
    dot = run_heapviz("graph", str(examples / "threads.0004.heap"), *base).out
    spike = next(line for line in dot.splitlines() if "spike_in_main" in line and line.startswith("N"))
    colour = spike.split('color="#')[1][:6]
    assert int(colour[2:4], 16) > int(colour[0:2], 16)  # green: shrank
    assert "Base: threads.0003.heap" in dot
    r = run_heapviz("graph", str(examples / "threads.0004.heap"), *base, "--drop-negative", "--format", "json")
    assert "spike_in_main" not in {n["name"] for n in json.loads(r.out)["nodes"]}


@pytest.mark.parametrize("args,rc", [(["--fail-if-growth", "64KiB"], 3), (["--fail-if-growth", "10MB"], 0),
                                     (["--fail-if-inuse", "100kB"], 3), (["--fail-if-inuse", "1GB"], 0),
                                     (["--fail-if-growth", "1MB", "--fail-if-inuse", "111KiB"], 0)])
def test_threshold_exit_codes(examples, tmp_path, args, rc):
    out = tmp_path / "s.json"
    html = tmp_path / "s.html"
    r = run_heapviz("report", *dumps(examples), "-o", str(out), "-o", str(html), *args)
    assert r.rc == rc, r.err
    assert out.exists() and html.exists()  # written before failing
    doc = json.loads(out.read_text())
    assert any(t["exceeded"] for t in doc["thresholds"]) == (rc == 3)
    assert ("threshold exceeded" in r.err) == (rc == 3)


def test_previous_summary_reports_what_got_worse(examples, tmp_path):
    earlier = tmp_path / "earlier.json"
    assert run_heapviz("report", *dumps(examples)[:2], "-o", str(earlier)).rc == 0
    now = tmp_path / "now.json"
    r = run_heapviz("report", *dumps(examples), "-o", str(now), "--previous", str(earlier))
    assert r.rc == 0, r.err
    doc = json.loads(now.read_text())
    jsonschema.validate(doc, SCHEMA)
    grown = {c["function"] for c in doc["changes"] if c["kind"] == "grown"}
    assert set(STEADY) <= grown
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = run_heapviz("report", *dumps(examples), "-o", str(now), "--previous", str(bad))
    assert r.rc == 1 and "not a heapviz summary" in r.err


def test_outputs_are_deterministic(examples, tmp_path):
    blobs = []
    for i in (1, 2):
        d = tmp_path / str(i)
        d.mkdir()
        r = run_heapviz("report", *dumps(examples), "-o", str(d / "r.html"), "-o", str(d / "r.json"),
                        "-o", str(d / "r.pdf"), "--no-command-line")
        assert r.rc == 0, r.err
        blobs.append([(d / f"r.{k}").read_bytes() for k in ("html", "json", "pdf")])
    assert blobs[0] == blobs[1]
    assert b"\x1b[" not in blobs[0][0]


def test_series_report_in_html_and_pdf(examples, tmp_path):
    html, pdf = tmp_path / "g.html", tmp_path / "g.pdf"
    assert run_heapviz("report", *dumps(examples), "-o", str(html), "-o", str(pdf)).rc == 0
    page = html.read_text()
    assert 'id="suspects"' in page and "steady growth" in page and 'id="growth-viewport"' in page
    assert "<svg class=\"chart\"" in page
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Leak suspects" in text and "12kB → 24kB → 36kB → 48kB" in text  # in-use bytes per dump, with units
    assert "Call graph of the growth" in text


def test_nightly_script(examples, tmp_path):
    env = dict(os.environ, HEAPVIZ=f"{sys.executable} -m heapviz")
    script = str(ROOT / "examples" / "nightly.sh")
    first = subprocess.run([script, str(tmp_path), "64KiB"], env=env, capture_output=True, text=True)
    assert first.returncode == 3, first.stderr
    second = subprocess.run([script, str(tmp_path), "10MB"], env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    summary = json.loads((tmp_path / "latest-summary.json").read_text())
    jsonschema.validate(summary, SCHEMA)
    assert summary["previous"] == "latest-summary.json"
    assert summary["suspects"][0]["function"] in STEADY


def test_only_stacks_that_can_rank_first_are_kept_for_ranking():
    """The stacks passed over before ranking could never have made the cut, ties included."""
    import random

    from heapviz.growth import _may_rank_first

    rnd = random.Random(4)
    for _ in range(200):
        space = [[rnd.choice([0, 5, 8, 2**60, 2**60 + 1]), rnd.choice([0, 5, 8, 2**60])] for _ in range(40)]
        rest = [g for g, v in enumerate(space) if v[-1] <= v[0] and any(v)]
        wanted = rnd.randint(0, len(rest))
        kept = _may_rank_first(rest, space, wanted)
        tie_break = {g: rnd.random() for g in rest}  # stands for the stack names: any order among ties
        order = {g: (-(space[g][-1] - space[g][0]), -max(space[g]), tie_break[g]) for g in rest}
        best = sorted(rest, key=order.__getitem__)[:wanted]
        assert set(best) <= set(kept) <= set(rest)


def test_series_with_base_is_the_series_measured_from_the_base(examples, tmp_path):
    """Regression: several dumps with --base were summed into one "dump" minus the base, which
    made the spike (0 → 1 MiB → 1 MiB → 0) suspect #1 with +2 MiB of "steady growth"."""
    out, html = tmp_path / "b.json", tmp_path / "b.html"
    r = run_heapviz("report", *dumps(examples), "--base", dumps(examples)[0], "-o", str(out), "-o", str(html))
    assert r.rc == 0, r.err
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["mode"] == "series" and doc["base"] == dumps(examples)[0]
    # the base is the first point and is not counted twice; nothing is summed
    assert [d["file"] for d in doc["dumps"]] == dumps(examples)
    sus = doc["suspects"]
    assert [s["function"] for s in sus] == [*STEADY, "spike_in_main", "setup_tables"]
    by_fn = {s["function"]: s for s in sus}
    assert by_fn["spike_in_main"]["inuse_space"] == [0, 1048576, 1048576, 0]
    assert by_fn["spike_in_main"]["score"] == 0 and not by_fn["spike_in_main"]["steady"]
    assert by_fn["setup_tables"]["inuse_space"] == [8192] * 4 and not by_fn["setup_tables"]["steady"]
    assert by_fn["leak_in_worker_b"]["growth_bytes"] == 3 * 12288
    assert all(by_fn[f]["steady"] for f in STEADY)
    # without --base the same dumps give the same ranking and values
    plain = tmp_path / "p.json"
    assert run_heapviz("report", *dumps(examples), "-o", str(plain)).rc == 0
    assert json.loads(plain.read_text())["suspects"] == sus
    assert "Call graph of the growth (last dump minus base)" in html.read_text()


def test_series_with_a_base_outside_it_starts_at_the_base(examples, tmp_path):
    out = tmp_path / "b.json"
    r = run_heapviz("report", *dumps(examples)[2:], "--base", dumps(examples)[0], "-o", str(out),
                    "--fail-if-growth", "1MB")
    assert r.rc == 0, r.err
    doc = json.loads(out.read_text())
    assert [d["file"] for d in doc["dumps"]] == [dumps(examples)[0], *dumps(examples)[2:]]
    by_fn = {s["function"]: s for s in doc["suspects"]}
    assert by_fn["leak_in_worker_a"]["inuse_space"] == [10000, 30000, 40000]
    assert by_fn["spike_in_main"]["inuse_space"] == [0, 1048576, 0]
    assert doc["thresholds"][0]["value"] == doc["dumps"][-1]["inuse_space"] - doc["dumps"][0]["inuse_space"]


def test_two_points_are_not_a_trend(examples, tmp_path):
    """A --base comparison (two dumps) never calls anything steady; what grew says "grew"."""
    out, html, pdf = tmp_path / "t.json", tmp_path / "t.html", tmp_path / "t.pdf"
    r = run_heapviz("report", dumps(examples)[3], "--base", dumps(examples)[0], "-o", str(out), "-o", str(html),
                    "-o", str(pdf))
    assert r.rc == 0, r.err
    doc = json.loads(out.read_text())
    assert doc["mode"] == "base" and len(doc["dumps"]) == 2
    assert not any(s["steady"] for s in doc["suspects"])
    assert doc["suspects"][0]["function"] == "leak_in_worker_b" and doc["suspects"][0]["growth_bytes"] > 0
    page = html.read_text()
    assert "steady growth</span>" not in page and '<span class="tag grow">grew</span>' in page
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "(grew)" in text and "(steady growth)" not in text
    # two dumps of a series are two points as well
    r = run_heapviz("report", *dumps(examples)[:2], "-o", str(out))
    assert r.rc == 0 and not any(s["steady"] for s in json.loads(out.read_text())["suspects"])

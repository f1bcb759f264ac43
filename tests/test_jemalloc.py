"""jemalloc heap profiles: a real one from examples/jemalloc_leak.c (Debian's libjemalloc2, built
with profiling, run with lg_prof_sample:0 so values are exact) checked against the known leaks
and jeprof on the same file; hand-written profiles (marked as such) for sampling, threads and
broken input.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_heapviz


@pytest.fixture(scope="module")
def jeprof() -> str:
    exe = shutil.which("jeprof")
    assert exe, "jeprof (Debian package libjemalloc-dev) is required"
    return exe


@pytest.fixture(scope="module")
def profile(examples) -> Path:
    path = examples / "jemalloc.heap"
    assert path.exists(), "jemalloc.heap was not made: install libjemalloc2 (scripts/install-deps.sh test)"
    return path


def top_json(path, *args):
    r = run_heapviz("top", "--format", "json", str(path), *args)
    assert r.rc == 0, r.err
    return json.loads(r.out), r.err


def rows(doc):
    return {r["name"]: (r["flat"], r["cum"]) for r in doc["rows"]}


def jeprof_text(jeprof, binary, profile, *extra) -> tuple[int, dict[str, tuple[int, int]]]:
    proc = subprocess.run([jeprof, "--text", "--show_bytes", "--nodecount=1000", "--nodefraction=0", *extra,
                           str(binary), str(profile)], capture_output=True, text=True, timeout=300, check=True)
    m = re.search(r"^Total(?: \(t\d+\))?: (\d+) (?:B|objects)", proc.stdout, re.MULTILINE)
    assert m, proc.stdout + proc.stderr
    table = {}
    for line in proc.stdout.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[1].endswith("%"):
            table[parts[5]] = (int(parts[0]), int(parts[3]))
    return int(m.group(1)), table


USER_FUNCTIONS = ("leak_pages", "leak_in_worker", "leak_rounded", "main", "worker", "start_thread")


def test_leaked_bytes_per_function(profile, expected):
    truth = expected["jemalloc"]
    doc, err = top_json(profile)
    got = rows(doc)
    assert doc["total"] == truth["total_inuse"]["jemalloc.heap"]
    for name, nbytes in truth["dumps"]["jemalloc.heap"].items():
        assert got[name][0] == nbytes, name
    assert not doc["estimated"]
    assert "warning" not in err
    objs, _ = top_json(profile, "--sample-index", "inuse_objects")
    for name, n in truth["inuse_objects"]["jemalloc.heap"].items():
        assert rows(objs)[name][0] == n
    alloc, _ = top_json(profile, "--sample-index", "alloc_space")
    for name, nbytes in truth["alloc_space"]["jemalloc.heap"].items():
        assert rows(alloc)[name][0] == nbytes
    assert "churn" not in got  # freed: nothing in use


def test_same_numbers_as_jeprof(profile, examples, expected, jeprof):
    binary = examples / expected["jemalloc"]["binary"]
    total, ref = jeprof_text(jeprof, binary, profile)
    doc, _ = top_json(profile)
    got = rows(doc)
    assert doc["total"] == total
    for name in USER_FUNCTIONS:
        assert got[name] == ref[name], name
    assert sum(f for f, _ in got.values()) == sum(f for f, _ in ref.values()) == total
    for sample_index in ("alloc_space", "inuse_objects"):
        atotal, aref = jeprof_text(jeprof, binary, profile, f"--{sample_index}")
        adoc, _ = top_json(profile, "--sample-index", sample_index)
        assert adoc["total"] == atotal
        assert rows(adoc)["main"] == aref["main"]


@pytest.mark.parametrize("thread", ["0", "1"])
def test_one_thread_as_jeprof(profile, examples, expected, jeprof, thread):
    binary = examples / expected["jemalloc"]["binary"]
    total, ref = jeprof_text(jeprof, binary, profile, f"--thread={thread}")
    doc, _ = top_json(profile, "--thread", thread)
    truth = expected["jemalloc"]["threads"][thread]
    assert doc["total"] == total == sum(truth.values())
    got = rows(doc)
    for name, nbytes in truth.items():
        assert got[name][0] == nbytes == ref[name][0]
    assert {n for n, (f, _) in got.items() if f} == set(truth)


def test_unknown_thread_is_an_error(profile):
    r = run_heapviz("top", str(profile), "--thread", "42")
    assert r.rc == 1
    assert "thread 42 is not in this profile (its threads: 0, 1)" in r.err


def test_stripped_libjemalloc_frames_are_dropped_by_mapping(profile):
    """Debian's libjemalloc.so.2 has no symbol table: its frames have no names, only a mapping."""
    lib = next(ln.split()[-1] for ln in profile.read_text().splitlines() if "libjemalloc" in ln)
    sections = subprocess.run(["readelf", "-S", "-W", lib], capture_output=True, text=True, check=True).stdout
    assert ".symtab" not in sections  # stripped: names come from dynamic symbols at best
    doc, err = top_json(profile)
    assert not any("jemalloc" in r["name"] or r["name"].startswith(("malloc", "je_")) for r in doc["rows"])
    assert "different build" not in err
    everything, _ = top_json(profile, "--all-frames")
    leaves = {r["name"] for r in everything["rows"] if r["flat"]}
    assert leaves == {"[libjemalloc.so.2]"}


def test_collapsed_stacks(profile):
    r = run_heapviz("top", str(profile), "--format", "collapsed")
    assert r.rc == 0, r.err
    lines = r.out.splitlines()
    assert sum(int(ln.rsplit(" ", 1)[1]) for ln in lines) == 24576
    assert any(ln.endswith(";main;leak_pages 20480") for ln in lines)
    assert any(re.search(r";start_thread;worker;leak_in_worker 3072$", ln) for ln in lines)


# ---- hand-written profiles (synthetic: not produced by jemalloc) --------------------------------

MAPS = ("\nMAPPED_LIBRARIES:\n"
        "00400000-00401000 r--p 00000000 08:01 1 /opt/app\n"
        "00401000-00402000 r-xp 00001000 08:01 1 /opt/app\n")


def _write(tmp_path, text, name="synthetic.heap"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_sampled_profile_is_unsampled_exactly(tmp_path):
    """Synthetic: rate 2^19; one stack of 2 objects of 512 KiB each (scale 1/(1-e^-1))."""
    path = _write(tmp_path, "heap_v2/524288\n"
                  "  t*: 3: 1049600 [3: 1049600]\n  t0: 2: 1048576 [2: 1048576]\n  t1: 1: 1024 [1: 1024]\n"
                  "@ 0x401010 0x401020\n  t*: 2: 1048576 [2: 1048576]\n  t0: 2: 1048576 [2: 1048576]\n"
                  "@ 0x401030 0x401020\n  t*: 1: 1024 [1: 1024]\n  t1: 1: 1024 [1: 1024]\n" + MAPS)
    doc, _ = top_json(path, "--symbolizer", "none")
    assert doc["estimated"]
    big = 1048576 / (1 - math.exp(-1))
    small = 1024 / (1 - math.exp(-1024 / 524288))
    assert doc["total"] == round(big + small)
    t1, _ = top_json(path, "--symbolizer", "none", "--thread", "1")
    assert t1["total"] == round(small)
    objs, _ = top_json(path, "--symbolizer", "none", "--sample-index", "inuse_objects")
    assert objs["total"] == round(2 / (1 - math.exp(-1)) + 1 / (1 - math.exp(-1024 / 524288)))


def test_profile_without_prof_accum_says_alloc_is_unknown(tmp_path):
    """Synthetic: the alloc pair is [0: 0] unless prof_accum:true."""
    path = _write(tmp_path, "heap_v2/1\n  t*: 1: 64 [0: 0]\n  t0: 1: 64 [0: 0]\n"
                  "@ 0x401010\n  t*: 1: 64 [0: 0]\n  t0: 1: 64 [0: 0]\n" + MAPS)
    doc, _ = top_json(path, "--symbolizer", "none")
    assert doc["total"] == 64
    alloc, _ = top_json(path, "--symbolizer", "none", "--sample-index", "alloc_space")
    assert alloc["total"] == 0


@pytest.mark.parametrize("body,where,what", [
    ("heap_v2/1\n  t*: 1: 64 [1: 64]\n@ 0x401010\n  t*: 1 64\n", ":4:", "malformed line"),
    ("heap_v2/1\n  t*: 1: 64 [1: 64]\n@ 0x40zz10\n", ":3:", "malformed address"),
    ("heap_v2/1\n  t*: 0: 64 [1: 64]\n", ":2:", "count is zero"),
    ("heap_v2/1\n@ 0x401010\n  t*: 1: 64 [1: 64]\n", ":2:", "no 't*:' totals line"),
    ("heap_v2/x\n", ":1:", "expected a jemalloc 'heap_v2/RATE' header"),
    ("heap_v2/1\n  t*: 1: 64 [1: 64]\n@ 0x401010\n  t*: 1: 64 [1: 64]\n  t*: 1: 64 [1: 64]\n", ":5:",
     "second 't*:' line"),
])
def test_broken_profiles_are_errors_with_a_line(tmp_path, body, where, what):
    path = _write(tmp_path, body, "bad.heap")
    r = run_heapviz("top", str(path))
    assert r.rc == 1, r.out
    assert what in r.err and f"bad.heap{where}" in r.err, r.err
    assert "Traceback" not in r.err


def test_thread_option_on_other_formats_warns(examples):
    r = run_heapviz("top", str(examples / "recursion.0001.heap"), "--thread", "1")
    assert r.rc == 0
    assert "--thread applies to jemalloc profiles only" in r.err

"""Valgrind massif input: a real run of examples/massif_growth.c (made at test time) read as a
series of detailed snapshots, checked against ms_print (valgrind's own reader of the format) on
the same file and the bytes each site is known to hold; bad input.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, run_heapviz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heapviz.errors import InputError
from heapviz.formats import FORMATS, LineReader, ReadLimits, load, load_bytes, load_series
from heapviz.formats import valgrind_massif as vm
from heapviz.model import Profile
from heapviz.prune import drop_allocator_frames

SOURCE = ROOT / "examples" / "massif_growth.c"


@pytest.fixture(scope="module")
def massif(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """examples/massif_growth run under massif (default options, time in bytes so that the
    snapshots are the same on every machine), and ms_print's text of the file."""
    assert shutil.which("valgrind") and shutil.which("ms_print"), "valgrind is required"
    out = tmp_path_factory.mktemp("massif")
    subprocess.run(["make", "-s", "-C", str(ROOT / "examples"), f"OUT={out}", str(out / "massif_growth")],
                   check=True, stdout=subprocess.DEVNULL, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "VALGRIND_OPTS")}
    subprocess.run(["valgrind", "-q", "--tool=massif", "--time-unit=B", "--massif-out-file=massif.out.1",
                    "./massif_growth"], cwd=out, env=env, check=True,
                   capture_output=True, timeout=120)
    text = subprocess.run(["ms_print", str(out / "massif.out.1")], capture_output=True, text=True, check=True,
                          timeout=120).stdout
    return out / "massif.out.1", text


def ms_print_rows(text: str) -> dict[int, int]:
    """Snapshot number -> useful-heap bytes, from ms_print's tables."""
    rows = {}
    for m in re.finditer(r"(?m)^\s*(\d+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s*$", text):
        rows[int(m.group(1))] = int(m.group(4).replace(",", ""))
    return rows


def ms_print_detailed(text: str) -> tuple[list[int], int]:
    m = re.search(r"Detailed snapshots: \[(.*)\]", text)
    assert m
    numbers, peak = [], -1
    for item in m.group(1).split(","):
        n = int(item.strip().split()[0])
        numbers.append(n)
        if "peak" in item:
            peak = n
    return numbers, peak


def ms_print_tree_top(text: str, snapshot: int) -> dict[str, int]:
    """The first level of ms_print's tree for one snapshot: allocating function -> bytes."""
    start = re.search(rf"(?m)^\s*{snapshot}\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+[\d,]+\s*$", text)
    assert start
    out = {}
    for line in text[start.end():].splitlines()[2:]:
        if line.startswith("-" * 20) or line.startswith("  n "):
            break
        m = re.match(r"^->\d+\.\d+% \(([\d,]+)B\) (?:0x[0-9A-F]+: (\S+?)(?:\(.*)? \(|in )", line)
        if m:
            out[m.group(2) or vm.BELOW_THRESHOLD] = int(m.group(1).replace(",", ""))
    return out


def flat_by_leaf(profile: Profile) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in drop_allocator_frames(profile).profile.samples:
        name = s.locations[0].lines[0].function.name
        out[name] = out.get(name, 0) + int(s.values[0])
    return out


def test_each_detailed_snapshot_is_a_profile_with_ms_prints_total(massif):
    path, text = massif
    series = load_series(str(path))
    numbers, peak = ms_print_detailed(text)
    assert [p.sequence for p in series] == numbers and len(series) >= 5
    rows = ms_print_rows(text)
    for p in series:
        assert p.total(0) == rows[p.sequence] == p.header_totals["inuse_space"], p.sequence
    (peak_profile,) = [p for p in series if p.sequence_text.endswith("(peak)")]
    assert peak_profile.sequence == peak
    assert load(str(path)).sequence == numbers[-1]  # one profile: the last snapshot


def test_peak_tree_equals_ms_print(massif):
    path, text = massif
    _, peak = ms_print_detailed(text)
    (p,) = [p for p in load_series(str(path)) if p.sequence == peak]
    assert flat_by_leaf(p) == ms_print_tree_top(text, peak)
    assert flat_by_leaf(p)["spike"] == 60000


def test_known_bytes_at_the_end_and_inline_frames(massif):
    path, _ = massif
    last = load(str(path))
    flat = flat_by_leaf(last)
    assert {k: flat[k] for k in ("grow_cache", "inline_grow", "setup_tables")} == {
        "grow_cache": 40000, "inline_grow": 10000, "setup_tables": 8192}
    assert set(flat) == {"grow_cache", "inline_grow", "setup_tables", "tiny_strings"}
    assert 0 < flat["tiny_strings"] <= 1600 and flat["tiny_strings"] % 16 == 0  # massif snapshots mid-step
    (inl,) = [s for s in last.samples if s.locations[0].lines[0].function.name == "inline_grow"]
    lines = [(ln.function.name, ln.function.filename, ln.line) for ln in inl.locations[0].lines]
    src = SOURCE.read_text().splitlines()
    assert lines == [("inline_grow", "massif_growth.c", src.index("    void *p = malloc(1000);") + 1),
                     ("grow_step", "massif_growth.c", src.index("    inline_grow();") + 1)]
    assert last.total_of("places") == 4


def test_report_ranks_steady_growth_over_the_series(massif, tmp_path):
    path, text = massif
    numbers, _ = ms_print_detailed(text)
    r = run_heapviz("report", str(path), "-o", str(tmp_path / "m.json"), "-o", str(tmp_path / "m.html"))
    assert r.rc == 0, r.err
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["mode"] == "series" and len(doc["dumps"]) == len(numbers)
    by_function = {s["function"]: s for s in doc["suspects"]}
    assert doc["suspects"][0]["function"] == "grow_cache" and doc["suspects"][0]["steady"]
    assert doc["suspects"][0]["inuse_space"][-1] == 40000
    assert by_function["spike"]["growth_bytes"] == 0 and not by_function["spike"]["steady"]
    assert max(by_function["spike"]["inuse_space"]) == 60000
    assert "grow_cache" in (tmp_path / "m.html").read_text()
    r = run_heapviz("top", str(path))
    assert r.rc == 0 and "grow_cache" in r.out and "spike" not in r.out
    r = run_heapviz("graph", str(path), "-o", str(tmp_path / "m.svg"))
    assert r.rc == 0 and "grow_cache" in (tmp_path / "m.svg").read_text()


def test_detected_by_content(massif, tmp_path):
    path, _ = massif
    head = path.read_bytes()[:4096]
    assert [n for n, fmt in FORMATS.items() if fmt.sniff(head)] == ["valgrind_massif"]
    renamed = tmp_path / "anything.txt"
    shutil.copy(path, renamed)
    assert load(str(renamed)).kind == "massif"


TREE = """\
desc: --time-unit=B
cmd: ./prog
time_unit: B
#-----------
snapshot=0
#-----------
time=0
mem_heap_B=0
mem_heap_extra_B=0
mem_stacks_B=0
heap_tree=empty
#-----------
snapshot=1
#-----------
time=100
mem_heap_B=1500
mem_heap_extra_B=8
mem_stacks_B=0
heap_tree=peak
n3: 1500 (heap allocation functions) malloc/new/new[], --alloc-fns, etc.
 n2: 1000 0x401000: f (a.c:1)
  n0: 600 0x401100: g (a.c:2)
  n0: 300 0x401200: ??? (in /opt/libx.so)
 n0: 300 in 4 places, all below massif's threshold (1.00%)
 n1: 200 0x401300: h (a.c:3)
  n0: 200 in 1 place, below massif's threshold (1.00%)
"""


def test_own_bytes_below_threshold_and_unnamed_frames():
    """A node's own bytes are its bytes less its children's (f: 100 of 1000); below-threshold
    entries become a pseudo frame at the root end of the path they sit on."""
    (p,) = series_of(TREE.encode())
    stacks = {tuple(loc.lines[0].function.name for loc in s.locations): s.values for s in p.samples}
    assert stacks == {("f", "g"): [600, 1], ("f", "libx.so@0x401200"): [300, 1], ("f",): [100, 1],
                      (vm.BELOW_THRESHOLD,): [300, 4], ("h", vm.BELOW_THRESHOLD): [200, 1]}
    assert p.total(0) == 1500 and p.sequence_text == "snapshot 1 (peak)"


def series_of(data: bytes, limits: ReadLimits = ReadLimits()) -> list[Profile]:
    """The parser's series from bytes, checked as load_series checks each profile."""
    profiles = vm.parse_series(LineReader(io.BufferedReader(io.BytesIO(data)), "m.out", limits))
    for p in profiles:
        p.validate()
    return profiles


def test_cut_file_keeps_complete_snapshots(massif, tmp_path):
    path, _ = massif
    data = path.read_text()
    cut = tmp_path / "cut.out"
    last = load(str(path)).sequence
    at = data.index(f"snapshot={last}\n")
    cut.write_text(data[:at] + data[at:].split("\n n1:")[0] + "\n")  # the last tree: its root only
    series = load_series(str(cut))
    assert [p.sequence for p in series] == [p.sequence for p in load_series(str(path))][:-1]
    assert any("ends early" in w for w in series[-1].warnings)
    r = run_heapviz("top", str(cut))
    assert r.rc == 0 and "ends early" in r.err


@pytest.mark.parametrize("text,line,what", [
    (TREE.replace(" n2: 1000 0x401000: f (a.c:1)", " n2: 1000 nonsense"), 21, "malformed heap tree entry"),
    (TREE.replace("  n0: 600 0x401100", "  n0: 6000 0x401100"), 22, "children hold more"),
    (TREE.replace(" n1: 200 0x401300", "   n1: 200 0x401300"), 25, "unexpected depth"),
    (TREE.replace("mem_heap_B=1500", "mem_heap_B=lots"), 16, "expected a number"),
    (TREE.replace("heap_tree=peak", "heap_tree=empty"), 20, "key=value"),
    ("desc: x\ncmd: y\ntime_unit: i\n#-----------\nsnapshot=0\nheap_tree=empty\n", 0, "no detailed snapshot"),
])
def test_bad_massif_files(text, line, what):
    with pytest.raises(InputError, match=what) as e:
        load_bytes(text.encode(), "bad.out")
    assert e.value.line == line


@settings(max_examples=int(os.environ.get("HEAPVIZ_FUZZ_EXAMPLES", "200")), deadline=None,
          suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.data())
def test_mutated_massif_parses_or_fails_cleanly(data):
    buf = bytearray(TREE.encode())
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(buf) - 1)) if buf else 0
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if op == "flip" and buf:
            buf[i] = data.draw(st.integers(0, 255))
        elif op == "insert":
            buf[i:i] = data.draw(st.sampled_from([b" ", b"n9: ", b"\n", b"99999999999999999999", b"snapshot=7\n"]))
        elif op == "delete":
            del buf[i : i + data.draw(st.integers(1, 30))]
        else:
            del buf[i:]
    try:
        profiles = series_of(bytes(buf), ReadLimits(max_line_bytes=1 << 16, max_input_bytes=1 << 20))
    except InputError as e:
        assert e.what
        return
    for p in profiles:
        assert all(v >= 0 for s in p.samples for v in s.values)


def test_snapshot_option_picks_one_snapshot(massif, tmp_path):
    """--snapshot N|peak|last: one snapshot of the series for every command, the peak's numbers
    as ms_print prints them; a snapshot the file lacks is one error line."""
    path, text = massif
    numbers, peak = ms_print_detailed(text)
    rows = ms_print_rows(text)
    series = load_series(str(path))
    assert [p.sequence for p in series if p.peak] == [peak]
    for choice, number in (("peak", peak), ("last", numbers[-1]), (str(numbers[1]), numbers[1])):
        r = run_heapviz("top", str(path), "--snapshot", choice, "--format", "json")
        assert r.rc == 0, r.err
        assert json.loads(r.out)["total"] == rows[number], choice
    out = tmp_path / "peak.json"
    r = run_heapviz("report", str(path), "--snapshot", "peak", "-o", str(out))
    assert r.rc == 0, r.err
    doc = json.loads(out.read_text())
    assert doc["mode"] == "single" and doc["dumps"][0]["inuse_space"] == rows[peak]
    missing = max(rows) + 1000
    r = run_heapviz("top", str(path), "--snapshot", str(missing))
    assert r.rc == 1 and r.err.count("\n") == 1 and f"no detailed snapshot {missing}" in r.err
    r = run_heapviz("top", str(path), "--snapshot", "highest")
    assert r.rc == 2 and "not a snapshot" in r.err


def test_memory_over_the_whole_run(massif, tmp_path):
    """Every snapshot's heap, extra heap and stacks bytes over massif's time, as ms_print's table
    has them, charted in the series report (HTML and PDF)."""
    path, text = massif
    table = [tuple(int(g.replace(",", "")) for g in m.groups()) for m in re.finditer(
        r"(?m)^\s*(\d+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s*$", text)]
    timeline = load_series(str(path))[-1].timeline
    assert timeline is not None and timeline.unit == "bytes allocated and freed"
    assert list(timeline.times) == [row[1] for row in table]
    series = dict(timeline.series)
    assert list(series["heap"]) == [row[3] for row in table]
    assert list(series["heap extra"]) == [row[4] for row in table]
    assert list(series["stacks"]) == [row[5] for row in table]
    html, pdf = tmp_path / "m.html", tmp_path / "m.pdf"
    r = run_heapviz("report", str(path), "-o", str(html), "-o", str(pdf))
    assert r.rc == 0, r.err
    page = html.read_text()
    chart = page[page.index('id="chart-timeline"'):]
    chart = chart[:chart.index("</figure>")]
    assert [m.group(1) for m in re.finditer(r'class="series" data-name="([^"]+)"', chart)] == \
        ["heap", "heap extra", "stacks"]
    words = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Memory over the whole run" in words and " to #" in words  # snapshots called #N


def test_series_report_details_the_peak(massif, tmp_path):
    """A massif file's report ranks suspects over its detailed snapshots and details the peak one
    (graph, tables, leak sites), as ms_print's peak tree."""
    path, text = massif
    _, peak = ms_print_detailed(text)
    out = tmp_path / "m.json"
    r = run_heapviz("report", str(path), "-o", str(out))
    assert r.rc == 0, r.err
    doc = json.loads(out.read_text())
    assert doc["mode"] == "series" and doc["totals"]["inuse_space"] == ms_print_rows(text)[peak]
    assert {row["name"]: row["flat"] for row in doc["top"]}["spike"] == 60000

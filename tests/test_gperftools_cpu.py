"""gperftools CPU profiles (issue 17): examples/cpu_hot.cpp recorded with LD_PRELOAD=libprofiler.so
CPUPROFILE=…, with ProfilerStart/ProfilerStop, and on two threads. heapviz's top equals `pprof -top`
(binutils build) on every file, per function, flat and cum, in samples and in time; the hot
functions take their known shares; hand-made files cover the word sizes and byte orders and bad
input; every command runs on a CPU profile.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import run_heapviz

from heapviz.formats import gperftools_cpu

# (profile, binary) as examples/Makefile writes them.
FILES = {"cpu_preload.prof": "cpu_hot", "cpu_api.prof": "cpu_hot_api", "cpu_threads.prof": "cpu_hot_api"}
# The shares the program's iteration counts give (examples/cpu_hot.cpp).
SHARES = {"spin_hot": 0.40, "spin_warm": 0.30, "lib_spin": 0.20, "spin_cold": 0.10}
# Sampling noise: a run has about 250 samples per CPU second (the kernel's tick caps the rate), so
# at least 150 samples here; one share's standard deviation is then at most sqrt(.4*.6/150) = 4.0
# points. 0.10 is 2.5 of those for the largest share, 5 for the smallest, and still tells every
# function from its neighbours in the table (10 points apart).
SHARE_TOLERANCE = 0.10
MIN_SAMPLES = 150
# Several symbols name one glibc assembly function (`clone3`, `__GI___clone3`); pprof's nm and
# llvm-symbolizer pick different ones (as in test_examples.py).
_ALIAS = re.compile(r"^(__GI_)?_*")

MAPS = "00400000-00500000 r-xp 00000000 08:01 1 /nonexistent/cpuprog\n"


def name_key(name: str) -> str:
    return _ALIAS.sub("", name.removesuffix(" (inline)"))


def cpu_file(records: list[tuple[int, list[int]]], bits: int = 64, order: str = "<", period_us: int = 1000,
             trailer: bool = True, maps: str = MAPS) -> bytes:
    """A CPU profile as gperftools writes it: header, records, trailer, memory map."""
    fmt = order + ("I" if bits == 32 else "Q")
    words = [0, 3, 0, period_us, 0]
    for count, pcs in records:
        words += [count, len(pcs), *pcs]
    if trailer:
        words += [0, 1, 0]
    return b"".join(struct.pack(fmt, w) for w in words) + (maps.encode() if trailer else b"")


# Three records: a leaf 0x400200 in one and the same address as a caller (0x400200 - 1) in another.
RECORDS = [(5, [0x400100, 0x400200, 0x400300]), (3, [0x400110, 0x400400, 0x400300]), (2, [0x400200])]
# The same by address as heapviz names them without the binary: leaf exact, callers at pc - 1.
BY_ADDRESS = {0x400100: (5, 5), 0x400110: (3, 3), 0x400200: (2, 2), 0x4001FF: (0, 5), 0x4002FF: (0, 8),
              0x4003FF: (0, 3)}


def pprof_top(pprof: str, *args: str) -> tuple[int, dict[str, tuple[int, int]]]:
    """`pprof -top -nodecount=0 -nodefraction=0 ARGS`, values as integers (-unit=ns or counts)."""
    proc = subprocess.run([pprof, "-top", "-nodecount=0", "-nodefraction=0", *args], capture_output=True,
                          text=True, timeout=300, check=True)
    m = re.search(r"of (-?\d+)(?:ns)? total", proc.stdout)
    assert m, proc.stdout + proc.stderr
    table: dict[str, tuple[int, int]] = {}
    for row in proc.stdout.split("cum%\n", 1)[1].splitlines():
        parts = row.split(None, 5)
        if len(parts) == 6:
            table[name_key(parts[5])] = (int(parts[0].removesuffix("ns")), int(parts[3].removesuffix("ns")))
    return int(m.group(1)), table


def top_json(*args: str) -> dict:
    r = run_heapviz("top", "--format", "json", *args)
    assert r.rc == 0, r.err
    return json.loads(r.out)


def rows(doc: dict) -> dict[str, tuple[int, int]]:
    return {name_key(r["name"]): (r["flat"], r["cum"]) for r in doc["rows"]}


def addresses(doc: dict) -> dict[int, tuple[int, int]]:
    """Rows of `top --granularity addresses` ("0000000000400100 cpuprog+0x100") by address."""
    return {int(r["name"].split()[0], 16): (r["flat"], r["cum"]) for r in doc["rows"]}


@pytest.fixture(scope="module")
def cpu(examples: Path) -> dict[str, tuple[str, str]]:
    """Each example CPU profile -> (its path, the binary that wrote it)."""
    return {name: (str(examples / name), str(examples / binary)) for name, binary in FILES.items()}


# ---- the examples against pprof and against what the program does ---------------------------


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("index", ["samples", "cpu"])
def test_top_equals_pprof(cpu, pprof, name, index):
    """Every function, flat and cum, and the total, as `pprof -top` with binutils symbolization."""
    profile, binary = cpu[name]
    total, table = pprof_top(pprof, f"-sample_index={index}", *(["-unit=ns"] if index == "cpu" else []),
                             binary, profile)
    doc = top_json(profile, "--sample-index", index)
    assert doc["total"] == total
    assert rows(doc) == table


@pytest.mark.parametrize("name", FILES)
def test_top_text_like_pprof(cpu, pprof, name):
    """The table as printed, in pprof's time units (ms here), line for line (rows of equal values
    may be ordered differently where their names are glibc aliases: pprof orders ties by name)."""
    profile, binary = cpu[name]
    ref = subprocess.run([pprof, "-top", "-nodecount=0", "-nodefraction=0", binary, profile], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    r = run_heapviz("top", profile)
    assert r.rc == 0 and r.err == "", r.err

    def lines(text: str) -> list[list[str]]:
        out = []
        for line in text.splitlines():
            if line.startswith(("File:", "Profile:")):
                continue
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[1].endswith("%"):
                parts[5] = _ALIAS.sub("", parts[5])
            out.append(parts)
        return out

    got, want = lines(r.out), lines(ref)
    assert [ln[:5] for ln in got] == [ln[:5] for ln in want]
    assert sorted(got) == sorted(want)
    assert "Type: cpu" in r.out and re.search(r"of \d+ms total", r.out)


@pytest.mark.parametrize("name", FILES)
def test_known_shares(cpu, name):
    """spin_hot 40%, spin_warm 30%, lib_spin 20%, spin_cold 10% of the samples, within
    SHARE_TOLERANCE; the whole run under run_rounds; time is samples x the 1 ms period."""
    profile, _ = cpu[name]
    doc = top_json(profile, "--sample-index", "samples")
    total = doc["total"]
    assert total >= MIN_SAMPLES, total
    got = rows(doc)
    shares = {fn: got[fn][0] / total for fn in SHARES}
    assert all(abs(shares[fn] - SHARES[fn]) <= SHARE_TOLERANCE for fn in SHARES), shares
    assert got["run_rounds"][1] == total
    assert sum(got[fn][0] for fn in SHARES) >= 0.97 * total  # nearly nothing outside the hot loops
    assert top_json(profile)["total"] == total * 1_000_000


def test_threads_share_the_work(cpu):
    """Two threads: everything under start_thread, nothing under main."""
    got = rows(top_json(cpu["cpu_threads.prof"][0]))
    assert got["start_thread"][1] == got["run_rounds"][1] and "main" not in got


@pytest.mark.parametrize("name", FILES)
def test_inlined_function_is_its_own_node(cpu, tmp_path, name):
    """spin_warm is inlined into warm_caller: its own row marked (inline), and an (inline) edge."""
    profile, _ = cpu[name]
    doc = top_json(profile)
    warm = next(r for r in doc["rows"] if r["name"] == "spin_warm")
    assert warm["inline"] == "(inline)" and warm["flat"] > 0
    caller = next(r for r in doc["rows"] if r["name"] == "warm_caller")
    assert caller["flat"] == 0 and caller["cum"] == warm["cum"]
    dot = tmp_path / "g.dot"
    r = run_heapviz("graph", profile, "-o", str(dot))
    assert r.rc == 0, r.err
    text = dot.read_text()
    ids = {m.group(2).split("\\n")[0]: m.group(1) for m in re.finditer(r'^(N\d+) \[label="([^"]*)"', text, re.M)}
    edge = re.search(rf'^{ids["warm_caller"]} -> {ids["spin_warm"]} \[label="[^"]*\(inline\)', text, re.M)
    assert edge, text


@pytest.mark.parametrize("name", FILES)
def test_shared_library_symbolized_without_warnings(cpu, name):
    """lib_spin comes from libcpuhot.so by its name; and no binary is taken for another build
    (a CPU leaf is not a return address, so it need not follow a call instruction)."""
    profile, _ = cpu[name]
    r = run_heapviz("top", "--format", "json", profile)
    assert r.rc == 0 and r.err == "", r.err
    doc = json.loads(r.out)
    lib = next(r for r in doc["rows"] if r["name"] == "lib_spin")
    assert lib["full_names"] == ["lib_spin(unsigned long, long)"]
    assert not [r["name"] for r in doc["rows"] if "+0x" in r["name"]]


def test_samples_and_time_sample_types(cpu):
    doc = top_json(cpu["cpu_api.prof"][0])
    assert (doc["sample_index"], doc["unit"], doc["estimated"]) == ("cpu", "nanoseconds", False)
    assert top_json(cpu["cpu_api.prof"][0], "--sample-index", "samples")["unit"] == "count"


# ---- hand-made files: word sizes, byte orders, pprof's stack rules ---------------------------


@pytest.mark.parametrize("bits,order", [(32, "<"), (32, ">"), (64, "<"), (64, ">")],
                         ids=["32-bit-little", "32-bit-big", "64-bit-little", "64-bit-big"])
def test_word_size_and_byte_order(tmp_path, pprof, bits, order):
    """Each layout is told from the header alone and read to the same profile; the leaf is looked
    up as is and callers at pc - 1, as pprof does (checked against `pprof -top -addresses`)."""
    path = tmp_path / "h.prof"
    path.write_bytes(cpu_file(RECORDS, bits, order, period_us=2500))
    doc = top_json(str(path), "--granularity", "addresses")
    got = addresses(doc)
    assert got == {a: (f * 2_500_000, c * 2_500_000) for a, (f, c) in BY_ADDRESS.items()}
    total, table = pprof_top(pprof, "-addresses", "-unit=ns", str(path))
    assert total == doc["total"] == 25_000_000
    assert {int(k.split()[0], 16): v for k, v in table.items()} == got


@pytest.mark.parametrize("bits,order", [(32, "<"), (32, ">"), (64, "<"), (64, ">")])
def test_layout_read_off_the_header(bits, order):
    layout = gperftools_cpu._layout(cpu_file(RECORDS, bits, order, period_us=250))
    assert layout is not None and (layout.size, layout.order, layout.period_us) == (bits // 8, order, 250)


def test_gzipped_profile(tmp_path):
    path = tmp_path / "h.prof.gz"
    path.write_bytes(gzip.compress(cpu_file(RECORDS)))
    assert top_json(str(path))["total"] == 10_000_000


def test_signal_handler_frame_dropped_as_pprof_does(tmp_path, pprof):
    """When all records share their second frame, pprof takes it for the signal handler's and drops
    it; heapviz does too, and says so."""
    records = [(4, [0x400100, 0x400500, 0x400300]), (2, [0x400110, 0x400500, 0x400400])]
    path = tmp_path / "sig.prof"
    path.write_bytes(cpu_file(records))
    r = run_heapviz("top", "--format", "json", "--granularity", "addresses", str(path))
    assert r.rc == 0 and "dropped frame 0x4004ff" in r.err, r.err
    got = set(addresses(json.loads(r.out)))
    _, table = pprof_top(pprof, "-addresses", "-unit=ns", str(path))
    assert got == {int(k.split()[0], 16) for k in table} == {0x400100, 0x400110, 0x4002FF, 0x4003FF}


def test_duplicate_leaf_dropped(tmp_path):
    """The leaf written again as the first caller (signal context and unwinder both) counts once."""
    records = [(4, [0x400100, 0x400100, 0x400300]), (2, [0x400110, 0x400400])]
    path = tmp_path / "dup.prof"
    path.write_bytes(cpu_file(records))
    got = addresses(top_json(str(path), "--granularity", "addresses", "--sample-index", "samples"))
    assert got == {0x400100: (4, 4), 0x4002FF: (0, 4), 0x400110: (2, 2), 0x4003FF: (0, 2)}


def test_repeated_stacks_summed(tmp_path):
    """The profiler writes a stack again when it evicts it from its table."""
    path = tmp_path / "rep.prof"
    path.write_bytes(cpu_file([(3, [0x400100, 0x400200]), (1, [0x400110, 0x400300]), (2, [0x400100, 0x400200])]))
    got = addresses(top_json(str(path), "--granularity", "addresses", "--sample-index", "samples"))
    assert got[0x400100] == (5, 5) and got[0x4001FF] == (0, 5)


# ---- bad input: one line, exit 1, no traceback -------------------------------------------------


def _assert_one_error(r, path: Path, what: str) -> str:
    lines = r.err.strip().splitlines()
    assert r.rc == 1 and len(lines) == 1, r.err
    assert lines[0].startswith(f"heapviz: error: {path}"), lines[0]
    assert what in lines[0], lines[0]
    assert "Traceback" not in r.err
    return lines[0]


def test_cut_before_trailer_reads_whole_records(cpu, tmp_path):
    """A real profile cut inside a record: the records before it are read, with a warning."""
    data = Path(cpu["cpu_api.prof"][0]).read_bytes()
    words = struct.unpack_from(f"<{len(data) // 8}Q", data)
    starts, pos = [], 5
    while words[pos:pos + 3] != (0, 1, 0):
        starts.append(pos)
        pos += 2 + words[pos + 1]
    assert len(starts) >= 4
    keep = starts[len(starts) // 2]
    cut = tmp_path / "cut.prof"
    cut.write_bytes(data[:keep * 8 + 20])  # inside the next record's frames
    r = run_heapviz("top", "--format", "json", "--sample-index", "samples", str(cut))
    assert r.rc == 0, r.err
    assert f"read the {len(starts) // 2} whole records up to byte offset {keep * 8}" in r.err, r.err
    assert "before its end-of-data trailer" in r.err
    assert json.loads(r.out)["total"] == sum(words[s] for s in starts[:len(starts) // 2])


def test_cut_at_record_boundary(tmp_path):
    path = tmp_path / "cut.prof"
    path.write_bytes(cpu_file(RECORDS, trailer=False))
    r = run_heapviz("top", "--format", "json", str(path))
    assert r.rc == 0 and "before its end-of-data trailer" in r.err and "no memory map" in r.err, r.err
    assert json.loads(r.out)["total"] == 10_000_000


BAD = [
    # (id, content, what)
    ("header matching no word size", struct.pack("<5Q", 0, 2, 0, 1000, 0) + b"\0" * 40, "unrecognized profile format"),
    ("java profile", struct.pack("<5Q", 0, 3, 1, 1000, 0) + b"\0" * 40, "unrecognized profile format"),
    ("zero period", struct.pack("<5Q", 0, 3, 0, 0, 0) + b"\0" * 40, "unrecognized profile format"),
    ("frames past the end", cpu_file([(1, [0x400100])], trailer=False) + struct.pack("<3Q", 7, 1_000_000, 0x400100),
     "record at byte offset 64 has 1000000 frames, which run past the end of the file (88 bytes)"),
    ("32-bit frames past the end", struct.pack(">5I", 0, 3, 0, 1000, 0) + struct.pack(">3I", 1, 0xFFFFFFFF, 1),
     "record at byte offset 20 has 4294967295 frames"),
    ("header only", struct.pack("<5Q", 0, 3, 0, 1000, 0), "before its first complete record"),
    ("time beyond 64 bits", cpu_file([(1 << 62, [0x400100])]), "does not fit in 64 bits"),
]


@pytest.mark.parametrize("content,what", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input(tmp_path, content, what):
    src = tmp_path / "bad.prof"
    src.write_bytes(content)
    out = tmp_path / "out.html"
    r = run_heapviz("report", str(src), "-o", str(out))
    _assert_one_error(r, src, what)
    assert not out.exists()


def test_unparsable_map_lines_skipped(tmp_path):
    path = tmp_path / "maps.prof"
    path.write_bytes(cpu_file(RECORDS, maps="build=abc\nnot a mapping at all\n" + MAPS))
    r = run_heapviz("top", "--format", "json", str(path))
    assert r.rc == 0 and "skipped 1 lines of the memory map" in r.err, r.err
    assert json.loads(r.out)["total"] == 10_000_000


# ---- every command on a CPU profile ------------------------------------------------------------


def test_graph_svg(cpu, tmp_path):
    out = tmp_path / "g.svg"
    r = run_heapviz("graph", cpu["cpu_api.prof"][0], "-o", str(out))
    assert r.rc == 0, r.err
    svg = out.read_text()
    assert "spin_hot" in svg and "lib_spin" in svg and re.search(r"\d+ms", svg)


def test_flame_svg(cpu, tmp_path):
    out = tmp_path / "f.svg"
    r = run_heapviz("flame", cpu["cpu_threads.prof"][0], "-o", str(out))
    assert r.rc == 0, r.err
    svg = out.read_text()
    assert all(fn in svg for fn in ("spin_hot", "spin_warm", "lib_spin", "spin_cold", "start_thread"))


def test_peek_equals_pprof(cpu, pprof):
    profile, binary = cpu["cpu_api.prof"]
    r = run_heapviz("peek", profile, "run_rounds")
    assert r.rc == 0, r.err
    ref = subprocess.run([pprof, "-peek", "run_rounds", binary, profile], capture_output=True, text=True,
                         timeout=300, check=True).stdout

    def body(text: str) -> list[list[str]]:
        return [ln.split() for ln in text.split("calls% + context", 1)[1].splitlines()[1:] if ln.strip()]

    assert body(r.out) == body(ref)


def test_convert_reads_back_equal(cpu, pprof, tmp_path):
    """convert writes profile.proto; heapviz and pprof read it back to the same numbers."""
    profile, binary = cpu["cpu_threads.prof"]
    out = tmp_path / "cpu.pb.gz"
    r = run_heapviz("convert", profile, "-o", str(out))
    assert r.rc == 0, r.err
    for index in ("samples", "cpu"):
        assert rows(top_json(str(out), "--sample-index", index)) == rows(top_json(profile, "--sample-index", index))
        unit = ["-unit=ns"] if index == "cpu" else []
        assert pprof_top(pprof, f"-sample_index={index}", *unit, str(out)) == \
            pprof_top(pprof, f"-sample_index={index}", *unit, binary, profile)
    assert top_json(str(out))["sample_index"] == "cpu"


def test_base_equals_pprof(cpu, pprof):
    """--base: the ProfilerStart run minus the LD_PRELOAD run, per function as `pprof -base`."""
    new, _ = cpu["cpu_api.prof"]
    old, _ = cpu["cpu_preload.prof"]
    _, table = pprof_top(pprof, "-unit=ns", "-base", old, new)
    assert rows(top_json(new, "--base", old)) == {k: v for k, v in table.items()}


def test_report_html_pdf_json(cpu, tmp_path):
    assert shutil.which("pdftotext"), "pdftotext (Debian package poppler-utils) is required"
    profile, _ = cpu["cpu_api.prof"]
    html, pdf, js = tmp_path / "r.html", tmp_path / "r.pdf", tmp_path / "r.json"
    r = run_heapviz("report", profile, "-o", str(html), "-o", str(pdf), "-o", str(js))
    assert r.rc == 0, r.err
    doc = json.loads(js.read_text())
    assert doc["sample_type"] == "cpu" and doc["mode"] == "single" and doc["warnings"] == []
    top = top_json(profile)
    assert doc["totals"] == {"samples": top["total"] // 1_000_000, "cpu": top["total"]}
    assert {name_key(t["name"]): (t["flat"], t["cum"]) for t in doc["top"]} == \
        {k: v for k, v in rows(top).items() if k in {name_key(t["name"]) for t in doc["top"]}}
    page = html.read_text()
    assert "CPU profile" in page and "spin_hot" in page and "lib_spin" in page
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "CPU profile" in text and "spin_hot" in text and re.search(r"\d+ms", text)


def test_series_of_two(cpu, tmp_path):
    """Two CPU profiles given to report are a series, in the order they were written (no dump
    numbers in their names: by modification time)."""
    a, b = cpu["cpu_preload.prof"][0], cpu["cpu_api.prof"][0]
    html, js = tmp_path / "s.html", tmp_path / "s.json"
    r = run_heapviz("report", b, a, "-o", str(html), "-o", str(js))
    assert r.rc == 0, r.err
    doc = json.loads(js.read_text())
    in_order = sorted((a, b), key=lambda p: Path(p).stat().st_mtime)
    assert doc["mode"] == "series" and [d["file"] for d in doc["dumps"]] == in_order
    assert {s["function"] for s in doc["suspects"]} >= set(SHARES)
    assert "spin_hot" in html.read_text()

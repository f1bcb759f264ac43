"""gperftools heap-checker input: its stderr log (with and without the symbols pprof adds) and
its `.heap` file, from real HEAPCHECK=normal runs of examples/heapcheck.c; format detection
across every format heapviz reads.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import run_heapviz
from reftools import perl_pprof_text

from heapviz.formats import FORMATS

HEAPCHECK_ENV_DROP = ("HEAPPROFILE", "HEAPCHECK", "PPROF_PATH", "LD_PRELOAD", "HEAP_CHECK_DUMP_DIRECTORY")


def _run_checker(binary: Path, out: Path, pprof_path: str) -> tuple[Path, Path]:
    """Run binary under HEAPCHECK=normal; return (stderr log, the checker's .heap file)."""
    dump_dir = out / "dump"
    dump_dir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in HEAPCHECK_ENV_DROP}
    env.update(HEAPCHECK="normal", HEAP_CHECK_DUMP_DIRECTORY=str(dump_dir), PPROF_PATH=pprof_path)
    proc = subprocess.run([str(binary)], env=env, capture_output=True, timeout=120, check=False, cwd="/")
    assert proc.returncode == 1, proc.stderr.decode()  # the checker's "leaks found" status
    log = out / "heapcheck.log"
    log.write_bytes(proc.stderr)
    (heap,) = dump_dir.glob("*._main_-end.heap")
    return log, heap


@pytest.fixture(scope="module")
def with_symbols(examples, tmp_path_factory, perl_pprof) -> tuple[Path, Path]:
    """A run where the checker finds pprof (Debian names it google-pprof): frames carry names."""
    return _run_checker(examples / "heapcheck", tmp_path_factory.mktemp("hc-sym"), perl_pprof)


@pytest.fixture(scope="module")
def without_symbols(examples, tmp_path_factory) -> tuple[Path, Path]:
    """A run where the checker cannot find pprof: bare hex addresses."""
    return _run_checker(examples / "heapcheck", tmp_path_factory.mktemp("hc-nosym"), "/nonexistent/pprof")


def top_json(path, *args):
    r = run_heapviz("top", "--format", "json", str(path), *args)
    assert r.rc == 0, r.err
    return json.loads(r.out), r.err


def flat_of(doc, name):
    return sum(row["flat"] for row in doc["rows"] if row["name"] == name)


def cum_of(doc, name):
    return max((row["cum"] for row in doc["rows"] if row["name"] == name), default=0)


def test_log_with_symbols_names_each_leak(with_symbols, expected):
    log, _ = with_symbols
    text = log.read_text()
    assert "Leak check _main_ detected leaks of 4555 bytes in 5 objects" in text
    assert "\t@ " in text and "lose_blocks" in text  # the checker did symbolize
    truth = expected["heapcheck"]
    doc, err = top_json(log)
    assert doc["total"] == truth["total_inuse"]["heapcheck.heap"] == 4555
    for name, nbytes in truth["dumps"]["heapcheck.heap"].items():
        assert flat_of(doc, name) == nbytes, name
    assert cum_of(doc, "main") == 4555
    assert "warning" not in err
    objs, _ = top_json(log, "--sample-index", "inuse_objects")
    for name, n in truth["inuse_objects"]["heapcheck.heap"].items():
        assert flat_of(objs, name) == n
    assert "keep_reachable" not in {r["name"] for r in doc["rows"]}


def test_log_without_symbols_keeps_values_and_says_how_to_get_names(without_symbols):
    log, _ = without_symbols
    text = log.read_text()
    assert "Cannot find 'pprof'" in text
    doc, err = top_json(log)
    assert doc["total"] == 4555
    flats = sorted((r["flat"] for r in doc["rows"] if r["flat"]), reverse=True)
    assert flats == [4000, 555]
    assert all(r["name"].startswith("0x") for r in doc["rows"])
    assert "PPROF_PATH" in err and ".heap" in err


def test_log_and_heap_file_of_one_run_agree(with_symbols, examples, perl_pprof):
    """The log, the checker's .heap file and google-pprof on that file give the same leaks."""
    log, heap = with_symbols
    from_log, _ = top_json(log)
    from_heap, _ = top_json(heap)
    ref = perl_pprof_text(perl_pprof, str(examples / "heapcheck"), str(heap))
    assert from_log["total"] == from_heap["total"] == ref.total == 4555
    for name in ("lose_blocks", "lose_one_string"):
        assert flat_of(from_log, name) == flat_of(from_heap, name) == ref.flat[name]
        assert cum_of(from_log, name) == cum_of(from_heap, name) == ref.cum[name]
    assert cum_of(from_log, "main") == cum_of(from_heap, "main") == ref.cum["main"]


def test_heap_file_lines_per_object_aggregate_by_stack(examples, expected, perl_pprof):
    """The checker's .heap has one line per leaked object (4 identical lines for lose_blocks)."""
    heap = examples / "heapcheck.heap"
    lines = heap.read_text().split("MAPPED_LIBRARIES:")[0].splitlines()
    samples = [ln for ln in lines[1:] if "@" in ln]
    assert len(samples) == 5 and len(set(samples)) == 2
    doc, _ = top_json(heap)
    truth = expected["heapcheck"]["dumps"]["heapcheck.heap"]
    names = [r["name"] for r in doc["rows"]]
    assert len(names) == len(set(names))  # one row per function, not per line
    for name, nbytes in truth.items():
        assert flat_of(doc, name) == nbytes
    objs, _ = top_json(heap, "--sample-index", "inuse_objects")
    assert flat_of(objs, "lose_blocks") == 4
    ref = perl_pprof_text(perl_pprof, str(examples / "heapcheck"), str(heap))
    assert ref.total == doc["total"] == 4555
    assert ref.flat["lose_blocks"] == 4000
    g = run_heapviz("graph", str(heap), "--format", "json")
    assert g.rc == 0, g.err
    graph = json.loads(g.out)
    assert json.dumps(graph).count('"lose_blocks"') >= 1


def test_makefile_log_is_read(examples):
    """The log `make -C examples` writes (whatever PPROF_PATH was) reads with its stated total."""
    doc, _ = top_json(examples / "heapcheck.log")
    assert doc["total"] == 4555


def test_non_pie_binary_gives_names_to_a_log_without_symbols(examples, tmp_path):
    """No memory map in the log: a non-PIE --binary is placed at its link addresses."""
    from conftest import ROOT

    exe = tmp_path / "heapcheck_nopie"
    subprocess.run(["cc", "-g", "-O1", "-fno-omit-frame-pointer", "-no-pie", "-o", str(exe),
                    str(ROOT / "examples" / "heapcheck.c"), "-ltcmalloc"], check=True, timeout=120)
    log, _ = _run_checker(exe, tmp_path / "run", "/nonexistent/pprof")
    doc, _ = top_json(log, "--binary", str(exe))
    assert flat_of(doc, "lose_blocks") == 4000
    assert flat_of(doc, "lose_one_string") == 555
    assert cum_of(doc, "main") == 4555
    lines, _ = top_json(log, "--binary", str(exe), "--granularity", "lines")
    assert any(r["name"].startswith("lose_blocks ") and "heapcheck.c:" in r["name"] for r in lines["rows"])


def _log(*blocks: str, banner: bool = True, check: str = "Leak check _main_ detected leaks of 4555 bytes in 5 "
         "objects\n") -> str:
    head = "WARNING: Perftools heap leak checker is active -- Performance may suffer\n" if banner else ""
    return head + check + "".join(blocks)


BLOCK_A = "Leak of 4000 bytes in 4 objects allocated from:\n\t@ 401189 lose_blocks\n\t@ 40124d main\n"
BLOCK_B = "Leak of 555 bytes in 1 objects allocated from:\n\t@ 4011e1 lose_one_string\n\t@ 401252 main\n"


def test_stated_total_kept_when_only_the_largest_leaks_are_listed(tmp_path):
    """Hand-written log (the checker lists at most heap_check_max_leaks blocks)."""
    path = tmp_path / "partial.log"
    path.write_text(_log("The 1 largest leaks:\n", BLOCK_A, "Skipping leaks numbered 2..2\n"))
    doc, err = top_json(path)
    assert doc["total"] == 4000
    assert "states leaks of 4555 bytes in 5 objects but lists only 4000 bytes in 4 objects" in err
    assert "1 leaks were skipped" in err
    r = run_heapviz("report", str(path), "-o", str(tmp_path / "s.json"), "--no-command-line")
    assert r.rc == 0, r.err


def test_log_after_program_output_and_symbols_with_separators(tmp_path):
    """Hand-written: program output before the report; the banner is found in the first 4 KiB."""
    noise = "".join(f"program output line {i}\n" for i in range(2000))  # ~50 KiB
    path = tmp_path / "noisy.log"
    path.write_text("WARNING: Perftools heap leak checker is active -- Performance may suffer\n" + noise
                    + _log(BLOCK_A, BLOCK_B, banner=False) + "\nIf the preceding stack traces are not enough "
                    "to find the leaks, try running THIS shell command:\n\npprof ./x \"x.heap\" --gv\n")
    doc, _ = top_json(path)
    assert doc["total"] == 4555 and flat_of(doc, "lose_blocks") == 4000


def test_log_without_banner_beyond_4k_is_not_recognized(tmp_path):
    """Documented limit: without the start-up banner the report must begin in the first 4 KiB."""
    path = tmp_path / "late.log"
    path.write_text("x" * 80 + "\n" * 1 + "".join(f"output {i}\n" for i in range(1000))
                    + _log(BLOCK_A, BLOCK_B, banner=False))
    r = run_heapviz("top", str(path))
    assert r.rc == 1
    assert "unrecognized profile format" in r.err


def test_log_without_leaks(tmp_path):
    path = tmp_path / "clean.log"
    path.write_text('WARNING: Perftools heap leak checker is active -- Performance may suffer\nNo leaks found '
                    'for check "_main_" (but no 100% guarantee that there aren\'t any): found 3 reachable heap '
                    'objects of 96 bytes\n')
    doc, _ = top_json(path)
    assert doc["total"] == 0 and doc["rows"] == []


@pytest.mark.parametrize("body,where,what", [
    (_log("Leak of 4000 bytes in 4 objects allocated from:\n\t@ zz12 lose_blocks\n"), ":4:",
     "malformed stack frame line"),
    (_log("Leak of 4000 bytes in 0 objects allocated from:\n"), ":3:", "0 objects"),
    ("WARNING: Perftools heap leak checker is active -- Performance may suffer\nbye\n", "", "no heap-checker leak"),
])
def test_broken_logs_are_errors_with_a_line(tmp_path, body, where, what):
    path = tmp_path / "bad.log"
    path.write_text(body)
    r = run_heapviz("top", str(path))
    assert r.rc == 1, r.out
    assert what in r.err and f"bad.log{where}" in r.err
    assert "Traceback" not in r.err


# ---- detection ---------------------------------------------------------------------------------

def _sniffers(path: Path) -> list[str]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    head = data[:4096]
    return [name for name, mod in FORMATS.items() if mod.sniff(head)]


@pytest.mark.parametrize("name,fmt", [
    ("threads.0002.heap", "gperftools_heap"),
    ("cxx.0002.heap", "gperftools_heap"),
    ("sampled.heap", "gperftools_heap"),
    ("heapcheck.heap", "gperftools_heap"),
    ("heapcheck.log", "heapcheck_log"),
    ("jemalloc.heap", "jemalloc_heap"),
])
def test_each_real_profile_is_claimed_by_exactly_one_format(examples, name, fmt):
    path = examples / name
    if not path.exists():
        pytest.fail(f"{name} was not made: install libjemalloc2 (scripts/install-deps.sh test)")
    assert _sniffers(path) == [fmt]


def test_order_is_most_specific_first():
    names = list(FORMATS)
    assert names.index("gperftools_heap") < names.index("heapcheck_log")
    assert names.index("jemalloc_heap") < names.index("heapcheck_log")


def test_gzipped_log_and_stdin(with_symbols, tmp_path):
    log, _ = with_symbols
    gz = tmp_path / "heapcheck.log.gz"
    gz.write_bytes(gzip.compress(log.read_bytes()))
    doc, _ = top_json(gz)
    assert doc["total"] == 4555
    r = run_heapviz("top", "--format", "json", "-", stdin=log.read_bytes())
    assert r.rc == 0 and json.loads(r.out)["total"] == 4555


def test_unknown_format_names_every_format(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some text\nLeak of memory somewhere\n")
    r = run_heapviz("top", str(path))
    assert r.rc == 1
    assert "unrecognized profile format" in r.err
    for mod in FORMATS.values():
        assert mod.DESCRIPTION in r.err

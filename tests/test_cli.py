"""The command line: exit codes, error lines, stdin, output files and formats."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys

import pytest
from conftest import run_heapviz

SMALL = (
    "heap profile: 3: 300 [ 5: 500] @ heapprofile\n"
    " 2: 200 [ 3: 300] @ 0x00400010 0x00400020\n"
    " 1: 100 [ 2: 200] @ 0x00400030 0x00400020\n"
    "\nMAPPED_LIBRARIES:\n"
    "00400000-00401000 r-xp 00000000 08:01 123 /nonexistent/prog\n"
)


def test_version_and_module_entry_point():
    r = run_heapviz("--version")
    assert r.rc == 0 and r.out.startswith("heapviz ")


def test_usage_errors_exit_2():
    assert run_heapviz().rc == 2
    assert run_heapviz("top").rc == 2
    r = run_heapviz("top", "--nodefraction", "7", "x.heap")
    assert r.rc == 2


def test_unknown_sample_index_is_a_usage_error(tmp_path):
    p = tmp_path / "p.heap"
    p.write_text(SMALL)
    r = run_heapviz("top", str(p), "--sample-index", "cpu")
    assert r.rc == 2 and "cpu" in r.err and "inuse_space" in r.err


@pytest.mark.parametrize(
    "content,what",
    [
        (b"", "empty file"),
        (b"\x7fELF\x02\x01\x01garbage", "unrecognized profile format"),
        (b"heap profile: 1: 8 [ 1: 8] @ heapprofile\n 1: x [ 1: 8] @ 0x10\n", ":2: "),
        (gzip.compress(b"heap profile: 1: 8 [ 1: 8] @ heapprofile\n")[:-8] + b"\x00" * 4, "heap"),
    ],
)
def test_bad_input_one_error_line_exit_1_no_output(tmp_path, content, what):
    p = tmp_path / "bad.heap"
    p.write_bytes(content)
    out = tmp_path / "out.json"
    r = run_heapviz("top", str(p), "-o", str(out))
    assert r.rc == 1
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"heapviz: error: {p}")
    assert what in lines[0]
    assert "Traceback" not in r.err and not out.exists()


def test_corrupt_gzip(tmp_path):
    data = gzip.compress(SMALL.encode() * 50)
    p = tmp_path / "bad.heap.gz"
    p.write_bytes(data[:40] + b"\xff" * 20 + data[60:])
    r = run_heapviz("top", str(p))
    assert r.rc == 1 and r.err.startswith(f"heapviz: error: {p}") and "Traceback" not in r.err


def test_missing_file_and_directory(tmp_path):
    r = run_heapviz("top", str(tmp_path / "nope.heap"))
    assert r.rc == 1 and r.err == f"heapviz: error: {tmp_path / 'nope.heap'}: No such file or directory\n"
    r = run_heapviz("top", str(tmp_path))
    assert r.rc == 1 and "is a directory" in r.err


def test_unwritable_output(tmp_path):
    p = tmp_path / "p.heap"
    p.write_text(SMALL)
    r = run_heapviz("top", str(p), "-o", str(tmp_path / "no" / "such" / "dir" / "x.txt"))
    assert r.rc == 1 and r.err.splitlines()[-1].startswith("heapviz: error:")


def test_stdin_and_fifo(tmp_path, examples):
    data = (examples / "recursion.0001.heap").read_bytes()
    r = run_heapviz("top", "-", "--format", "json", stdin=data)
    assert r.rc == 0 and json.loads(r.out)["total"] == 3748 and json.loads(r.out)["profile"] == "-"
    r = run_heapviz("top", "-", "--format", "json", stdin=gzip.compress(data))
    assert r.rc == 0 and json.loads(r.out)["total"] == 3748
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    src = examples / "recursion.0001.heap"
    code = f"open({str(fifo)!r}, 'wb').write(open({str(src)!r}, 'rb').read())"
    writer = subprocess.Popen([sys.executable, "-c", code])
    r = run_heapviz("top", str(fifo), "--format", "json")
    writer.wait(timeout=60)
    assert r.rc == 0 and json.loads(r.out)["total"] == 3748


def test_several_profiles_are_summed(examples):
    one = json.loads(run_heapviz("top", "--format", "json", str(examples / "threads.0001.heap")).out)
    two = json.loads(run_heapviz("top", "--format", "json", str(examples / "threads.0002.heap")).out)
    both = json.loads(run_heapviz("top", "--format", "json", str(examples / "threads.0001.heap"),
                                  str(examples / "threads.0002.heap")).out)
    assert both["total"] == one["total"] + two["total"]


def test_missing_binary_is_a_warning_and_output_is_written(tmp_path):
    p = tmp_path / "p.heap"
    p.write_text(SMALL)
    out = tmp_path / "top.txt"
    r = run_heapviz("top", str(p), "-o", str(out))
    assert r.rc == 0
    assert r.err.startswith(f"heapviz: warning: {p}: cannot symbolize prog")
    text = out.read_text()
    assert "prog+0xf" in text and "prog+0x1f" in text


def test_csv_and_json_shapes(examples):
    r = run_heapviz("top", "--format", "csv", str(examples / "recursion.0001.heap"))
    rows = list(csv.reader(io.StringIO(r.out)))
    assert rows[0] == ["name", "flat", "flat_pct", "sum_pct", "cum", "cum_pct"]
    assert {row[0]: int(row[1]) for row in rows[1:]}["recurse"] == 2048
    doc = json.loads(run_heapviz("top", "--format", "json", str(examples / "recursion.0001.heap")).out)
    assert set(doc) >= {"profile", "sample_index", "unit", "total", "rows"}
    assert doc["unit"] == "bytes" and doc["sample_index"] == "inuse_space"
    for row in doc["rows"]:
        assert isinstance(row["flat"], int) and isinstance(row["cum"], int) and row["full_names"]


def test_cum_sort_nodecount_nodefraction(examples):
    p = str(examples / "recursion.0001.heap")
    doc = json.loads(run_heapviz("top", "--format", "json", "--cum", p).out)
    cums = [r["cum"] for r in doc["rows"]]
    assert cums == sorted(cums, reverse=True)
    doc = json.loads(run_heapviz("top", "--format", "json", "--node-count", "2", p).out)
    assert [r["name"] for r in doc["rows"]] == ["recurse", "pong"]
    doc = json.loads(run_heapviz("top", "--format", "json", "-nodefraction", "0.45", p).out)
    assert all(r["cum"] >= 0.45 * 3748 for r in doc["rows"])
    r = run_heapviz("top", "--nodefraction", "0.45", p)
    assert "Dropped" in r.out


def test_pprof_spellings(examples):
    p = str(examples / "threads.0004.heap")
    a = json.loads(run_heapviz("top", "--format", "json", "-alloc_space", p).out)
    b = json.loads(run_heapviz("top", "--format", "json", "--sample_index=alloc_space", p).out)
    c = json.loads(run_heapviz("top", "--format", "json", "--alloc-space", p).out)
    assert a["sample_index"] == b["sample_index"] == c["sample_index"] == "alloc_space"
    assert a["total"] == b["total"] == c["total"]


def test_progress_only_on_a_terminal(examples, tmp_path):
    """Progress lines go to stderr when it is a terminal, and nowhere otherwise."""
    import pty

    out = tmp_path / "r.html"
    args = [sys.executable, "-m", "heapviz", "report", str(examples / "cxx.0002.heap"), "-o", str(out)]
    quiet = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and quiet.stderr == ""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=300) == 0
    os.close(leader)
    seen = b"".join(chunks).decode()
    assert "heapviz: reading" in seen and "collecting the report" in seen and "writing the HTML report" in seen

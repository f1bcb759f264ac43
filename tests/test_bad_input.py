"""Bad input, table-driven: one `heapviz: error:` line naming the file (and line), exit 1, no
traceback, no output file. And the inputs that look odd but must parse."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pytest

from conftest import run_heapviz

HEADER = "heap profile:      2:     200 [     2:     200] @ heapprofile\n"
SAMPLE = "     1:      100 [     1:      100] @ 0x00400010 0x00400020\n"
MAPS = "\nMAPPED_LIBRARIES:\n00400000-00401000 r-xp 00000000 08:01 123 /nonexistent/prog\n"
GOOD = HEADER + SAMPLE + SAMPLE + MAPS


def _corrupt_gzip() -> bytes:
    data = bytearray(gzip.compress(GOOD.encode() * 40, mtime=0))  # the same parameter in every xdist worker
    data[30:50] = b"\xff" * 20
    return bytes(data)


BAD = [
    # (id, content, where (line number or None), what)
    ("empty", b"", None, "empty file"),
    ("whitespace only", b"\n \n\t\n", None, "empty file"),
    ("garbage bytes", os.urandom(64).replace(b"\x1f\x8b", b"xx") + b"\x00garbage", None, "unrecognized"),
    ("header then garbage", (HEADER + "this is not a sample line\n" + MAPS).encode(), 2, "malformed sample"),
    ("malformed map line", (HEADER + SAMPLE + "MAPPED_LIBRARIES:\n0040-zz r-xp\n").encode(), 4,
     "malformed memory map"),
    ("negative count", (HEADER + "    -1:      100 [     1:      100] @ 0x10\n" + MAPS).encode(), 2, "negative"),
    ("zero count with bytes", (HEADER + "     0:      100 [     1:      100] @ 0x10\n" + MAPS).encode(), 2,
     "count is zero but bytes are not"),
    ("beyond 64 bits", (HEADER + "     1: 18446744073709551616 [ 1: 1] @ 0x10\n" + MAPS).encode(), 2, "64 bits"),
    ("address beyond 64 bits", (HEADER + "     1: 1 [ 1: 1] @ 0x10000000000000001\n" + MAPS).encode(), 2,
     "out of range"),
    ("sampling rate below 1", b"heap profile: 1: 8 [ 1: 8] @ heap_v2/0\n 1: 8 [ 1: 8] @ 0x10\n", 1, "below 1"),
    ("v2 without rate", b"heap profile: 1: 8 [ 1: 8] @ heap_v2\n 1: 8 [ 1: 8] @ 0x10\n", 1, "sampling rate"),
    ("10 MB line", (HEADER + " 1: 8 [ 1: 8] @" + " 0x10" * 2_000_000 + "\n").encode(), 2, "longer than the limit"),
    ("corrupt gzip", _corrupt_gzip(), None, "gzip"),
    ("truncated gzip", gzip.compress(GOOD.encode() * 40, mtime=0)[:-30], None, ""),
    ("only a header cut short", b"heap profile: 1: 8 [ 1: 8] @ heapprofile\n 1: 8 [ 1:", 2, ""),
]


@pytest.mark.parametrize("content,line,what", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input(tmp_path, content, line, what):
    src = tmp_path / "bad.heap"
    src.write_bytes(content)
    out = tmp_path / "out.html"
    r = run_heapviz("report", str(src), "-o", str(out))
    lines = r.err.strip().splitlines()
    assert r.rc == 1, r.err
    assert len(lines) == 1, r.err
    where = f"{src}:{line}: " if line else f"{src}"
    assert lines[0].startswith(f"heapviz: error: {where}"), lines[0]
    assert what in lines[0]
    assert "Traceback" not in r.err and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.heap"]  # no temporary files either


def test_directory_and_missing_and_unwritable(tmp_path):
    r = run_heapviz("top", str(tmp_path))
    assert r.rc == 1 and r.err == f"heapviz: error: {tmp_path}: is a directory, not a profile\n"
    r = run_heapviz("top", str(tmp_path / "missing.heap"))
    assert r.rc == 1 and r.err == f"heapviz: error: {tmp_path / 'missing.heap'}: No such file or directory\n"
    good = tmp_path / "good.heap"
    good.write_text(GOOD)
    (tmp_path / "isdir.html").mkdir()
    for target in (tmp_path / "no" / "dir" / "r.html", tmp_path / "isdir.html"):
        r = run_heapviz("report", str(good), "-o", str(target))
        errors = [ln for ln in r.err.splitlines() if ln.startswith("heapviz: error:")]
        assert r.rc == 1 and len(errors) == 1 and str(target) in errors[0]


def test_gzip_bomb_refused_while_streaming_with_bounded_memory(tmp_path):
    """50 MB of profile text in a small gzip; --max-input-size 8MiB stops it early."""
    body = (SAMPLE * 500_000).encode()
    bomb = tmp_path / "bomb.heap.gz"
    with gzip.open(bomb, "wb") as f:
        f.write(HEADER.encode())
        f.write(body)
    assert bomb.stat().st_size < 1_000_000
    code = (
        "import resource, sys\n"
        "from heapviz.cli import main\n"
        f"rc = main(['top', {str(bomb)!r}, '--max-input-size', '8MiB'])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    err_lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1
    assert err_lines[0] == f"heapviz: error: {bomb}: input larger than --max-input-size (8388608 bytes)"
    assert int(err_lines[-1]) < 300_000  # KiB: well below the 50 MB it would expand to


@pytest.mark.parametrize(
    "name,content,warning",
    [
        ("crlf", GOOD.replace("\n", "\r\n").encode(), None),
        ("no final newline", GOOD.rstrip("\n").encode(), None),
        ("cut mid-line", (HEADER + SAMPLE + SAMPLE[:20]).encode(), "truncated at line 3"),
        ("cut before the map", (HEADER + SAMPLE + SAMPLE).encode(), "no memory map"),
        ("gzip", gzip.compress(GOOD.encode(), mtime=0), None),
    ],
)
def test_odd_but_valid_inputs_parse(tmp_path, name, content, warning):
    src = tmp_path / "p.heap"
    src.write_bytes(content)
    out = tmp_path / "top.txt"
    r = run_heapviz("top", str(src), "--symbolizer", "none", "-o", str(out))
    assert r.rc == 0, r.err
    assert (out.exists() and "[prog]" in out.read_text()) or "0x40000f" in out.read_text()
    if warning:
        assert f"heapviz: warning: {src}: " in r.err and warning in r.err


def test_stdin_and_fifo(tmp_path):
    r = run_heapviz("top", "-", "--symbolizer", "none", stdin=GOOD.encode())
    assert r.rc == 0 and "200" in r.out.replace("B", "")
    fifo = tmp_path / "fifo.heap"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"printf '%s' '{GOOD}' > {fifo}"])
    r = run_heapviz("top", str(fifo), "--symbolizer", "none")
    writer.wait(timeout=30)
    assert r.rc == 0, r.err

"""The command line: exit codes, error lines, stdin, output files and formats."""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_heapviz
from pypdf import PdfReader

from heapviz.cli_common import file_size as _file_size
from heapviz.cli_args import build_parser

COMMANDS = ("top", "graph", "report", "flame", "peek", "list", "disasm", "convert")

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
        # mtime=0: parameters are collected by each xdist worker and must be the same bytes in all
        (gzip.compress(b"heap profile: 1: 8 [ 1: 8] @ heapprofile\n", mtime=0)[:-8] + b"\x00" * 4, "heap"),
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
    assert "[prog]" in text  # its unnamed addresses, one node as pprof's


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
    # no progress: only the line that names the file written
    assert quiet.returncode == 0 and quiet.stderr.startswith(f"heapviz: wrote {out} (")
    assert len(quiet.stderr.splitlines()) == 1
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


WROTE = re.compile(r"^heapviz: wrote (?P<path>.+) "
                   r"\((?:(?P<pages>\d+) pages?, )?(?P<size>[\d.]+) (?P<unit>B|KiB|MiB)\)$")
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 * 1024}


def wrote_lines(err: str) -> dict[str, re.Match[str]]:
    """The `heapviz: wrote …` lines on stderr, by the path they name; every such line must parse."""
    found = {}
    for line in err.splitlines():
        if line.startswith("heapviz: wrote "):
            m = WROTE.match(line)
            assert m, line
            found[m["path"]] = m
    return found


def assert_size_is_the_files(m: re.Match[str], path: Path) -> None:
    shown = float(m["size"]) * UNITS[m["unit"]]
    actual = path.stat().st_size
    if m["unit"] == "B":
        assert shown == actual
    else:
        assert 1 <= float(m["size"]) < 1024
        # two or three significant digits: within the last printed digit
        step = (0.1 if "." in m["size"] else 1) * UNITS[m["unit"]]
        assert abs(shown - actual) <= step / 2 + 1


@pytest.mark.parametrize(
    "n,text",
    [(0, "0 B"), (812, "812 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (6349, "6.2 KiB"), (10189, "10 KiB"),
     (217088, "212 KiB"), (1048000, "1023 KiB"), (1048575, "1.0 MiB"), (1468006, "1.4 MiB"),
     (24117248, "23 MiB"), (5 * 1024**3, "5.0 GiB")],
)
def test_file_sizes_are_1024_based(n, text):
    assert _file_size(n) == text


def test_report_says_what_it_wrote_with_pdf_pages(examples, tmp_path):
    html, pdf = tmp_path / "leak.html", tmp_path / "leak.pdf"
    r = run_heapviz("report", str(examples / "cxx.0002.heap"), "-o", str(html), "-o", str(pdf))
    assert r.rc == 0, r.err
    lines = [ln for ln in r.err.splitlines() if ln.startswith("heapviz: wrote ")]
    assert len(lines) == 2 and lines[0].startswith(f"heapviz: wrote {html} (")  # in the order of -o
    wrote = wrote_lines(r.err)
    assert wrote[str(html)]["pages"] is None
    assert int(wrote[str(pdf)]["pages"]) == len(PdfReader(str(pdf)).pages) > 1
    for path in (html, pdf):
        assert_size_is_the_files(wrote[str(path)], path)


@pytest.mark.parametrize(
    "args,name",
    [(("graph",), "x.svg"), (("top", "--format", "json"), "x.json"), (("flame",), "x.svg"),
     (("peek", "--format", "json"), "x.json"), (("convert",), "x.pb.gz"), (("graph",), "x.pdf")],
)
def test_each_file_written_is_named_on_stderr(examples, tmp_path, args, name):
    out = tmp_path / name
    r = run_heapviz(*args, str(examples / "threads.0001.heap"), "-o", str(out))
    assert r.rc == 0, r.err
    wrote = wrote_lines(r.err)
    assert list(wrote) == [str(out)]
    assert_size_is_the_files(wrote[str(out)], out)
    if name.endswith(".pdf"):
        assert int(wrote[str(out)]["pages"]) == len(PdfReader(str(out)).pages) == 1
    else:
        assert wrote[str(out)]["pages"] is None


def test_quiet_and_stdout_say_nothing_but_warnings_still_print(examples, tmp_path):
    prof = str(examples / "threads.0001.heap")
    html, svg = tmp_path / "r.html", tmp_path / "g.svg"
    for args in (("-q", "graph", prof, "-o", str(svg)),  # global
                 ("graph", prof, "-o", str(svg), "--quiet"),  # per subcommand
                 ("report", prof, "-q", "-o", str(html))):
        r = run_heapviz(*args)
        assert r.rc == 0 and "wrote" not in r.err, (args, r.err)
    assert html.exists() and svg.exists()
    for args in (("top", prof), ("graph", prof), ("top", prof, "-o", "-"), ("convert", prof, "-o", "-")):
        r = run_heapviz(*args)
        assert r.rc == 0 and r.out and "wrote" not in r.err, (args, r.err)
    small = tmp_path / "p.heap"
    small.write_text(SMALL)
    r = run_heapviz("top", str(small), "-q", "-o", str(tmp_path / "t.txt"))
    assert r.rc == 0 and r.err.startswith(f"heapviz: warning: {small}: cannot symbolize prog")
    assert "wrote" not in r.err


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_has_help():
    parser = build_parser({c: lambda args: 0 for c in COMMANDS})
    subs = _subparsers(parser)
    assert set(subs) == set(COMMANDS)
    for name, p in [("heapviz", parser), *subs.items()]:
        for action in p._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help and action.help.strip(), (name, action.option_strings or action.dest)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_ends_with_examples(command):
    r = run_heapviz(command, "--help")
    assert r.rc == 0
    tail = r.out.rstrip("\n").split("\nexamples:\n")
    assert len(tail) == 2, r.out
    examples = tail[1].splitlines()
    assert 2 <= len(examples) <= 3
    assert all(line.startswith(f"  heapviz {command} ") for line in examples)
    assert "-q, --quiet" in r.out


def test_peek_regex_that_matches_nothing_warns(examples):
    prof = str(examples / "recursion.0001.heap")
    r = run_heapviz("peek", prof, "no_function_is_called_this")
    assert r.rc == 0
    assert r.err == f"heapviz: warning: {prof}: --regex=no_function_is_called_this matched nothing\n"
    r = run_heapviz("peek", "--format", "json", "--regex", "no_function_is_called_this", prof)
    assert r.rc == 0 and "matched nothing" in r.err
    doc = json.loads(r.out)
    assert doc["functions"] == [] and any("matched nothing" in w for w in doc["warnings"])
    r = run_heapviz("peek", prof, "^ping$")
    assert r.rc == 0 and "matched nothing" not in r.err


def test_debug_shows_the_traceback_before_or_after_the_subcommand(tmp_path):
    garbage = tmp_path / "garbage.heap"
    garbage.write_bytes(b"not a profile at all\n")
    plain = run_heapviz("top", str(garbage))
    assert plain.rc == 1 and "Traceback" not in plain.err and plain.err.startswith("heapviz: error:")
    for args in (["--debug", "top", str(garbage)], ["top", str(garbage), "--debug"]):
        r = run_heapviz(*args)
        assert r.rc == 1 and "Traceback" in r.err and "heapviz: error:" in r.err, args

"""Go heap profiles: examples/goleak built with Debian's Go and run at test time; heapviz reads
its protobuf and legacy text profiles and agrees with `go tool pprof` and with the bytes the
program is known to leak (MemProfileRate = 1, so values are exact).
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import go_build, run_heapviz

from heapviz.formats import FORMATS
from heapviz.render.dot import shorten_function_name

# examples/goleak/main.go: function -> bytes it keeps reachable.
LEAKS = {"main.leakyFunc": 1000 * 65536, "main.(*cache).fill": 2000 * 4096}
# The runtime may allocate a few bytes of its own while a leaking function runs (Go hides
# those runtime frames, so they count at the user function), hence a small tolerance.
NOISE = 4096


@pytest.fixture(scope="module")
def goleak(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("goleak")
    binary = go_build("goleak", out)
    proto, text = out / "goleak.pb.gz", out / "goleak.heap.txt"
    subprocess.run([str(binary), str(proto), str(text)], check=True, timeout=120, cwd="/")
    return {"binary": binary, "proto": proto, "text": text}


def top_json(path: Path, *args: str) -> dict:
    r = run_heapviz("top", "--format", "json", str(path), *args)
    assert r.rc == 0, r.err
    assert "warning" not in r.err, r.err
    return json.loads(r.out)


def go_top(*args: str, index: str = "inuse_space") -> tuple[int, dict[str, tuple[int, int]]]:
    proc = subprocess.run(["go", "tool", "pprof", "-top", "-unit=B", "-nodefraction=0", "-nodecount=0",
                           f"-sample_index={index}", *args], capture_output=True, text=True, timeout=300,
                          check=True)
    m = re.search(r"of (-?\d+)B? total", proc.stdout)
    assert m, proc.stdout + proc.stderr
    table = {}
    for row in proc.stdout.split("cum%\n", 1)[1].splitlines():
        parts = row.split(None, 5)
        if len(parts) == 6:
            table[parts[5]] = (int(parts[0].rstrip("B")), int(parts[3].rstrip("B")))
    return int(m.group(1)), table


def rows(doc: dict) -> dict[str, tuple[int, int]]:
    return {r["name"]: (r["flat"], r["cum"]) for r in doc["rows"]}


def test_detected(goleak):
    head = goleak["text"].read_bytes()[:4096]
    assert head.startswith(b"heap profile: ") and b"@ heap/2\n" in head
    assert next(n for n, m in FORMATS.items() if m.sniff(head)) == "go_heap"
    assert b"# runtime.MemStats" in goleak["text"].read_bytes()
    raw = gzip.decompress(goleak["proto"].read_bytes())
    assert [n for n, m in FORMATS.items() if m.sniff(raw[:4096])] == ["pprof_proto"]


@pytest.mark.parametrize("form", ["proto", "text"])
def test_known_leaks(goleak, form):
    doc = top_json(goleak[form])
    assert doc["sample_index"] == "inuse_space" and not doc["estimated"]
    got = rows(doc)
    for fn, leaked in LEAKS.items():
        flat = got[fn][0]
        assert leaked <= flat < leaked + NOISE, (fn, flat)
    warm = got["main.warmCache"]
    assert warm[1] >= LEAKS["main.(*cache).fill"] + warm[0]
    objects = rows(top_json(goleak[form], "--sample-index", "inuse_objects"))
    assert 1000 <= objects["main.leakyFunc"][0] < 1010
    assert 2000 <= objects["main.(*cache).fill"][0] < 2010


@pytest.mark.parametrize("index", ["inuse_space", "alloc_objects"])
def test_proto_equals_go_pprof(goleak, index):
    doc = top_json(goleak["proto"], "--sample-index", index)
    total, table = go_top(str(goleak["proto"]), index=index)
    assert doc["total"] == total
    got = rows(doc)
    for name, (flat, cum) in table.items():
        if name.startswith("main."):
            assert got[name] == (flat, cum), name
    assert {n for n in got if n.startswith("main.")} == {n for n in table if n.startswith("main.")}


def test_text_equals_go_pprof(goleak):
    """The text form read with the frames in its comments equals go tool pprof with the binary."""
    doc = top_json(goleak["text"])
    total, table = go_top(str(goleak["binary"]), str(goleak["text"]))
    assert doc["total"] == total
    got = rows(doc)
    for name, values in table.items():
        if name.startswith("main."):
            assert got[name] == values, name
    # file:line comes from the comments, not from the binary
    lines = top_json(goleak["text"], "--lines")
    assert any(r["name"].startswith("main.leakyFunc ") and "goleak/main.go:" in r["name"] for r in lines["rows"])


def test_text_and_proto_agree_on_leaks(goleak):
    proto, text = rows(top_json(goleak["proto"])), rows(top_json(goleak["text"]))
    for fn in LEAKS:
        assert abs(proto[fn][0] - text[fn][0]) < NOISE


@pytest.mark.parametrize("form", ["proto", "text"])
def test_convert_go_profiles(goleak, tmp_path, form):
    out = tmp_path / f"{form}.pb.gz"
    r = run_heapviz("convert", str(goleak[form]), "-o", str(out))
    assert r.rc == 0, r.err
    ours = top_json(goleak[form])
    back = top_json(out)
    assert (back["total"], back["rows"]) == (ours["total"], ours["rows"])
    total, table = go_top(str(out))
    assert total == ours["total"]
    assert {n: v for n, v in table.items() if n.startswith("main.")} == {
        n: v for n, v in rows(ours).items() if n.startswith("main.")}


def test_graph_labels(goleak):
    r = run_heapviz("graph", str(goleak["proto"]), "--format", "dot")
    assert r.rc == 0, r.err
    assert 'main.(*cache).fill' in r.out and "main.leakyFunc" in r.out


@pytest.mark.parametrize("name,label", [
    ("github.com/user/pkg.(*Type).Method", "pkg.(*Type).Method"),
    ("golang.org/x/net/http2.(*Framer).ReadFrame", "http2.(*Framer).ReadFrame"),
    ("example.com/a/b.Map[go.shape.int]", "b.Map[go.shape.int]"),
    ("main.(*cache).fill", "main.(*cache).fill"),
    ("runtime.malg", "runtime.malg"),
    ("std::vector<int>::push_back", "std::vector<int>::push_back"),
])
def test_go_names_shortened_in_labels(name, label):
    assert shorten_function_name(name) == label


def test_go_text_without_comments_needs_binary(tmp_path):
    """gperftools-style `@ heap/N` lines with no Go comments are not taken for Go's format."""
    p = tmp_path / "old.heap"
    p.write_text("heap profile: 1: 8 [1: 8] @ heap/2\n1: 8 [1: 8] @ 0x401000\n")
    assert next(n for n, m in FORMATS.items() if m.sniff(p.read_bytes())) == "gperftools_heap"


def test_go_text_errors(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("heap profile: 1: 8 [1: 8] @ heap/2\n1: 8 [1: 8] @ 0x401000\n#\tnot-a-pc\tmain.f+0x1\tf.go:1\n"
                 "\n# runtime.MemStats\n# Alloc = 1\n")
    r = run_heapviz("top", str(p))
    assert r.rc == 1 and r.err.startswith(f"heapviz: error: {p}:3: malformed frame comment"), r.err

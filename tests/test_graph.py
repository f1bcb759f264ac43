"""Call graphs: pprof's pruning checked against pprof's own -dot, rendering through real Graphviz."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import DATA, run_heapviz
from reftools import pprof_dot

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


def _norm(name: str) -> str:
    name = re.sub(r"^(__GI_)?_*", "", name)
    return re.sub(r"\([^()]*\)(?=::)", "", name)


def heapviz_graph(profile: Path, *options: str) -> dict:
    r = run_heapviz("graph", "--format", "json", "--all-frames", str(profile), *options)
    assert r.rc == 0, r.err
    return json.loads(r.out)


CASES = [
    ("cxx_leaks", "cxx.0002.heap", ()),
    ("threads_series", "threads.0002.heap", ()),
    ("threads_series", "threads.0004.heap", ("-nodecount=5",)),
    ("threads_series", "threads.0004.heap", ("-nodecount=3",)),
    ("threads_series", "threads.0003.heap", ("-nodefraction=0.05",)),
    ("threads_series", "threads.0004.heap", ("-sample_index=alloc_space", "-edgefraction=0.2")),
    ("threads_series", "threads.0004.heap", ("-ignore=worker_b",)),
    ("threads_series", "threads.0004.heap", ("-show=leak|worker",)),
    ("recursion", "recursion.0001.heap", ()),
    ("recursion", "recursion.0001.heap", ("-nodecount=4",)),
    ("shlib_main", "shlib.0002.heap", ("-focus=plugin",)),
    ("cxx_leaks", "cxx.0002.heap", ("-hide=main",)),
    ("cxx_leaks", "cxx.0002.heap", ("-nodecount=6",)),
]


@pytest.mark.parametrize("binary,dump,options", CASES, ids=[f"{d}{''.join(o)}" for _, d, o in CASES])
def test_graph_equals_pprof_dot(examples, pprof, binary, dump, options):
    ref = pprof_dot(pprof, str(examples / binary), str(examples / dump), options)
    doc = heapviz_graph(examples / dump, *options)
    names = {n["id"]: _norm(n["name"]) for n in doc["nodes"]}
    ours_nodes = {_norm(n["name"]): (n["flat"], n["cum"]) for n in doc["nodes"]}
    assert ours_nodes == {_norm(k): v for k, v in ref.nodes.items()}
    ours_edges = {(names[e["from"]], names[e["to"]]): (e["weight"], e["residual"], e["inline"]) for e in doc["edges"]}
    assert ours_edges == {(_norm(a), _norm(b)): v for (a, b), v in ref.edges.items()}
    m = re.search(r"Showing nodes accounting for (\d+)B, .*? of (\d+)B total", ref.legend)
    assert m and doc["total"] == int(m.group(2))
    assert sum(n["flat"] for n in doc["nodes"]) == int(m.group(1))


def test_residual_edges_appear_where_nodes_were_dropped(examples):
    doc = heapviz_graph(examples / "threads.0004.heap", "--nodecount", "5")
    by_id = {n["id"]: n["name"] for n in doc["nodes"]}
    residual = [(by_id[e["from"]], by_id[e["to"]]) for e in doc["edges"] if e["residual"]]
    assert residual and all(e[1] == "worker" for e in residual)  # start_thread was dropped between them
    full = heapviz_graph(examples / "threads.0004.heap", "--nodecount", "0")
    assert not any(e["residual"] for e in full["edges"])


def test_recursion_has_no_self_loop_and_counts_once(examples, expected):
    doc = heapviz_graph(examples / "recursion.0001.heap", "--nodefraction", "0", "--edgefraction", "0")
    assert all(e["from"] != e["to"] for e in doc["edges"])
    cum = {n["name"]: n["cum"] for n in doc["nodes"]}
    for name, n in expected["recursion"]["cumulative"]["recursion.0001.heap"].items():
        assert cum[name] == n


def _svg_nodes(svg: bytes) -> dict[str, str]:
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            title = g.find(f"{SVG}title").text
            a = g.find(f".//{SVG}a")
            out[title] = a.get(f"{XLINK}title") if a is not None else ""
    return out


def test_svg_pdf_png_render(examples, tmp_path):
    prof = examples / "cxx.0002.heap"
    for fmt in ("svg", "pdf", "png", "dot"):
        out = tmp_path / f"g.{fmt}"
        r = run_heapviz("graph", str(prof), "-o", str(out))
        assert r.rc == 0, r.err
    nodes = _svg_nodes((tmp_path / "g.svg").read_bytes())
    doc = heapviz_graph(prof)  # same default pruning as the SVG, but with --all-frames
    default = json.loads(run_heapviz("graph", "--format", "json", str(prof)).out)
    kept = {f"N{i + 1}" for i in range(len(default["nodes"]))}
    assert {t for t in nodes if t.startswith("N") and not t.startswith("NN")} == kept
    tips = "\n".join(nodes.values())
    for name in ("hv::operator<<(hv::Log&, hv::Record const&)", "(anonymous namespace)::leak_here()",
                 "hv::run_lambdas()::{lambda(int)#1}::operator()(int) const", "hv::Accumulator::operator()(int)"):
        assert name in tips
    assert doc["nodes"]
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(tmp_path / "g.pdf"), str(tmp_path / "page")], check=True)
    assert list(tmp_path.glob("page*.png"))
    png = (tmp_path / "g.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 200 and height > 100
    pdftext = subprocess.run(["pdftotext", str(tmp_path / "g.pdf"), "-"], capture_output=True, text=True).stdout
    assert "grow_vector" in pdftext and "Showing nodes accounting for" in pdftext


def test_dot_to_stdout_and_deterministic(examples, tmp_path):
    a = run_heapviz("graph", str(examples / "threads.0003.heap"))
    copy = tmp_path / "threads.0003.heap"
    shutil.copy(examples / "threads.0003.heap", copy)
    b = run_heapviz("graph", str(copy))
    assert a.rc == 0 and a.out.startswith('digraph "threads_series"')
    assert a.out == b.out
    assert str(tmp_path) not in b.out and str(examples) not in a.out


def test_layout_timeout_is_an_error_without_output(examples, tmp_path):
    out = tmp_path / "g.svg"
    r = run_heapviz("graph", str(examples / "cxx.0002.heap"), "-o", str(out), "--layout-timeout", "0.0001")
    assert r.rc == 1 and "layout" in r.err and "--nodecount" in r.err and not out.exists()
    assert len(r.err.strip().splitlines()) == 1


def test_missing_dot_names_the_package(examples, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(shutil.which("llvm-symbolizer"), bindir / "llvm-symbolizer")
    r = run_heapviz("graph", str(examples / "cxx.0002.heap"), "-o", str(tmp_path / "g.svg"),
                    env={"PATH": str(bindir)})
    assert r.rc == 1 and r.err.strip() == "heapviz: error: 'dot' not found; install it with: apt-get install graphviz"
    r = run_heapviz("graph", str(examples / "cxx.0002.heap"), "-o", str(tmp_path / "g.dot"),
                    env={"PATH": str(bindir)})
    assert r.rc == 0


def test_unknown_suffix_is_a_usage_error(examples, tmp_path):
    r = run_heapviz("graph", str(examples / "cxx.0002.heap"), "-o", str(tmp_path / "g.xyz"))
    assert r.rc == 2 and "--format" in r.err


def test_filters_apply_to_top(examples):
    r = run_heapviz("top", "--format", "json", "--focus", "worker_a", str(examples / "threads.0004.heap"))
    doc = json.loads(r.out)
    assert {row["name"] for row in doc["rows"] if row["flat"]} == {"leak_in_worker_a"}
    assert doc["total"] == 112884  # percentages stay relative to the whole profile
    r = run_heapviz("top", "--focus", "nothing_matches_this", str(examples / "threads.0004.heap"))
    assert r.rc == 0 and "matched nothing" in r.err


def test_golden_dot_for_committed_profile():
    """A committed profile whose binary is not around: raw frames, byte-identical DOT."""
    src = DATA / "golden" / "unsymbolized.heap"
    r = run_heapviz("graph", str(src))
    golden = DATA / "golden" / "unsymbolized.dot"
    if os.environ.get("HEAPVIZ_REGEN_GOLDEN"):
        golden.write_text(r.out)
    assert r.out == golden.read_text()


def test_truncated_and_unknown_stacks_are_explicit_nodes(tmp_path):
    deep = " ".join(f"0x{0x400010 + i:x}" for i in range(32))
    maps = "MAPPED_LIBRARIES:\n00400000-00401000 r-xp 00000000 08:01 123 /nonexistent/prog\n"
    prof = tmp_path / "p.heap"
    prof.write_text(f"heap profile: 2: 4096 [ 2: 4096] @ heapprofile\n 1: 2048 [ 1: 2048] @ {deep}\n"
                    f" 1: 2048 [ 1: 2048] @\n{maps}")
    doc = json.loads(run_heapviz("graph", "--format", "json", str(prof)).out)
    names = {n["name"]: n for n in doc["nodes"]}
    assert names["[truncated stack]"]["cum"] == 2048 and names["[unknown stack]"]["flat"] == 2048

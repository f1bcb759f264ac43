"""heapviz on programs Debian ships, profiled at test time with tcmalloc's heap profiler
(issue 19): Graphviz's `dot` laying out a generated graph, whose allocations go through its
wrappers (gmalloc ← zmalloc, agalloc, grealloc), and `python3` leaking a known number of objects,
whose series ends in gperftools' dump at exit after CPython freed its heap.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_heapviz
from reftools import pprof_top

from heapviz.graph.nodes import NodeOptions
from heapviz.graph.stacks import StackTable
from heapviz.pipeline import LoadOptions, load_each
from heapviz.wrappers import WrapperOptions, detect, known_pattern

LEAKED = 5000  # objects the Python script keeps in a global list
PYTHON = "/usr/bin/python3"


def _tcmalloc() -> str:
    found = sorted(glob.glob("/usr/lib/*/libtcmalloc.so.4") + glob.glob("/usr/lib/libtcmalloc.so.4"))
    assert found, "libtcmalloc.so.4 (Debian package libgoogle-perftools4) is required"
    return found[0]


def _profile(argv: list[str], prefix: Path, cwd: Path, interval: int) -> list[Path]:
    """Run argv under tcmalloc's heap profiler; its dumps in order."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEAP", "TCMALLOC", "LD_PRELOAD", "PYTHON"))}
    env.update(LD_PRELOAD=_tcmalloc(), HEAPPROFILE=str(prefix), HEAP_PROFILE_ALLOCATION_INTERVAL=str(interval))
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, timeout=120)
    dumps = sorted(prefix.parent.glob(prefix.name + ".*.heap"))
    assert len(dumps) >= 3, dumps
    return dumps


@pytest.fixture(scope="module")
def dot_dumps(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    dot = shutil.which("dot")
    assert dot, "dot (Debian package graphviz) is required"
    out = tmp_path_factory.mktemp("dot")
    edges = [f"n{i} -> n{2 * i + 1}; n{i} -> n{2 * i + 2}; n{i} -> n{(i * 7) % 241};" for i in range(120)]
    (out / "g.dot").write_text("digraph G {\n" + "\n".join(edges) + "\n}\n")
    return _profile([dot, "-Tsvg", "g.dot", "-o", "g.svg"], out / "dot", out, 600_000)  # more than 8 dumps


@pytest.fixture(scope="module")
def python_dumps(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("python")
    # 1 KiB objects: above pymalloc's 512 bytes, so each is one malloc the profiler sees. The
    # script dumps once it has leaked them all; gperftools adds its dump at exit.
    (out / "leak.py").write_text(
        "import ctypes\n"
        "leaked = []\n"
        "def make_record(i):\n"
        "    return bytes(1024) + str(i).encode()\n"
        f"for i in range({LEAKED}):\n"
        "    leaked.append(make_record(i))\n"
        f"ctypes.CDLL({_tcmalloc()!r}).HeapProfilerDump(b'leaked')\n")
    return _profile([PYTHON, "leak.py"], out / "py", out, 1_000_000)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A symbol cache shared by this file's runs: each Debian library is symbolized once."""
    return {"HEAPVIZ_NO_CACHE": "", "HEAPVIZ_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}


def _report(dumps: list[Path], out: Path, env: dict[str, str], *args: str, pdf: bool = True) -> tuple[dict, str]:
    outputs = ["-o", str(out / "r.json"), "-o", str(out / "r.html")] + (["-o", str(out / "r.pdf")] if pdf else [])
    r = run_heapviz("report", *map(str, dumps), *outputs, "--no-command-line", *args, env=env)
    assert r.rc == 0, r.err
    return json.loads((out / "r.json").read_text()), r.err


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def _headline_function(html: Path) -> str:
    """The function the HTML report's first sentence names."""
    head = html.read_text().split('id="headline"')[1].split("</p>")[0]
    return head.split('class="fn"')[1].split(">", 1)[1].split("<", 1)[0]


WRAPPER = known_pattern(WrapperOptions())


def _not_wrapper(name: str) -> bool:
    return not (WRAPPER is not None and WRAPPER.fullmatch(name))


def test_dot_totals_and_wrappers_equal_pprof(dot_dumps, pprof, cache):
    """heapviz's totals equal pprof's on the largest and the last dump, and the wrappers stay
    nodes of `top` with pprof's flat and cum."""
    dot = shutil.which("dot") or "dot"
    largest = max(dot_dumps, key=lambda p: int(p.read_text().split("[", 2)[1].split(":")[1].split("]")[0]))
    for dump in (largest, dot_dumps[-1]):
        ref = pprof_top(pprof, dot, str(dump))
        r = run_heapviz("top", "--format", "json", str(dump), env=cache)
        assert r.rc == 0, r.err
        doc = json.loads(r.out)
        assert doc["total"] == ref.total
        rows = {row["name"]: row for row in doc["rows"]}
        for name in ("gmalloc", "zmalloc", "agalloc"):
            if name in ref.cum:
                assert rows[name]["cum"] == ref.cum[name], name
        assert rows["gmalloc"]["flat"] == ref.flat["gmalloc"] > 0.3 * ref.total if dump == largest else True


def test_dot_sites_and_suspects_are_below_the_wrappers(dot_dumps, tmp_path, cache):
    doc, err = _report(dot_dumps, tmp_path, cache)
    found = {w["name"]: w for w in doc["wrappers"]}
    assert {"gmalloc", "zmalloc"} <= set(found)
    assert found["gmalloc"]["reason"] == "built-in list (Graphviz)"
    assert "heapviz: warning: allocation wrappers: gmalloc" in err
    assert "--hide '^(" in err and "|gmalloc|" in err
    # Debian's Graphviz libraries are stripped: each one left with unnamed addresses is named once
    stripped = [ln for ln in err.splitlines() if "is stripped" in ln]
    assert any("libgvc.so" in ln for ln in stripped) and len(stripped) == len(set(stripped))
    top = doc["suspects"][0]
    assert _not_wrapper(top["function"]) and top["stack"][0] == top["function"]
    assert top["wrappers"] and set(top["wrappers"]) <= set(found)
    assert not any(s["function"] in found for s in doc["suspects"][:10])
    # the graph and the top table keep the wrappers: pprof shows them
    assert doc["top"][0]["name"] == "gmalloc"
    html = (tmp_path / "r.html").read_text()
    assert 'id="wrappers"' in html and "<code" in html.split('id="wrappers"')[1].split("</p>")[0]
    # the first screen's suspects give the first dump's value and the last four's, not one per dump
    answer = html.split('id="answer-table"')[1].split("</table>")[0]
    assert len(dot_dumps) > 8 and " → … → " in answer
    pdf = _pdf_text(tmp_path / "r.pdf")
    assert "Allocation wrappers: gmalloc" in pdf
    # the leak site of the last dump is named after the wrapper's caller too
    single, _ = _report(dot_dumps[-2:-1], tmp_path, cache, pdf=False)
    assert single["top"][0]["name"] == "gmalloc"
    name = _headline_function(tmp_path / "r.html")
    assert _not_wrapper(name) and name not in found


def test_dot_wrappers_detected_without_the_built_in_list(dot_dumps, tmp_path, cache):
    """--no-alloc-wrappers: the old answer (gmalloc); --alloc-wrappers adds names to an empty list."""
    off, err = _report(dot_dumps, tmp_path, cache, "--no-alloc-wrappers", pdf=False)
    assert off["wrappers"] == [] and "allocation wrappers" not in err
    assert not _not_wrapper(off["suspects"][0]["function"])  # Graphviz's wrappers, as before issue 19
    mine, err = _report(dot_dumps, tmp_path, cache, "--no-alloc-wrappers", "--alloc-wrappers", "gmalloc", pdf=False)
    assert [w["name"] for w in mine["wrappers"]] == ["gmalloc"]
    assert "gmalloc" not in [s["function"] for s in mine["suspects"]]
    assert "zmalloc" in [s["function"] for s in mine["suspects"][:5]]


def test_dot_wrappers_detected_by_their_shape(dot_dumps):
    """Without the built-in list, detection alone finds Graphviz's wrappers in the largest dump:
    names that look like an allocator, called from many functions; gmalloc's callers are found
    in the next round (zmalloc)."""
    largest = max(dot_dumps, key=lambda p: p.stat().st_size)
    p = load_each([str(largest)], LoadOptions())[0].profile
    t = StackTable(p.samples, NodeOptions())
    w = detect(t, p.sample_index("inuse_space"), p.sample_index("inuse_objects"), WrapperOptions(builtin=False))
    found = {x.name: x for x in w.detected}
    assert {"gmalloc", "zmalloc", "agalloc"} <= set(found), found
    assert found["gmalloc"].callers >= 3 and found["gmalloc"].share > 0.3
    assert all(x.reason.startswith("detected: ") for x in found.values())
    # what is not allocating is not a wrapper: the functions gmalloc's callers are
    assert not {"named_virtual_node", "new_virtual_edge", "dot_layout", "main"} & set(found)


def test_python_series_collapse(python_dumps, pprof, tmp_path, cache):
    """The script leaks LEAKED objects, dumps, and exits: the exit dump collapses; the top suspect
    grew by those objects up to it, and the report says so."""
    for dump in (python_dumps[-2], python_dumps[-1]):
        ref = pprof_top(pprof, PYTHON, str(dump))
        r = run_heapviz("top", "--format", "json", str(dump), env=cache)
        assert r.rc == 0, r.err
        assert json.loads(r.out)["total"] == ref.total
    doc, _ = _report(python_dumps, tmp_path, cache)
    col = doc["collapse"]
    assert col is not None and col["drop_fraction"] > 0.8
    assert col["growth_before"] > LEAKED * 1024 * 0.9
    top = doc["suspects"][0]
    assert _not_wrapper(top["function"])
    assert top["score"] > 0.5 and top["growth_before_collapse"] >= LEAKED * 1024 * 0.9
    # every leaked object is there in the dump the script took, and gone at exit
    assert LEAKED <= top["inuse_objects"][-2] <= LEAKED + 50 and top["inuse_objects"][-1] == 0
    assert any("PYTHONMALLOC=malloc" in n for n in doc["notes"])
    html = (tmp_path / "r.html").read_text()
    assert 'id="collapse"' in html and "The last dump fell by" in html
    assert "Grew the most before the last dump collapsed" in html
    pdf = " ".join(_pdf_text(tmp_path / "r.pdf").split())
    assert "The last dump fell by" in pdf and "PYTHONMALLOC=malloc" in pdf
    # the dump the script took: its largest leak site is named below CPython's wrappers
    _report(python_dumps[-2:-1], tmp_path, cache, pdf=False)
    assert _not_wrapper(_headline_function(tmp_path / "r.html"))


def test_dot_explorer_sites_are_below_the_wrappers(dot_dumps, tmp_path, cache):
    """The HTML explorer recomputes the leak sites under a new filter below the same wrappers."""
    from browser import PageWatch, browser

    _report(dot_dumps[-2:-1], tmp_path, cache, pdf=False)
    html = tmp_path / "r.html"
    with browser() as b:
        page = b.new_page()
        watch = PageWatch(page)
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        names = "els => els.slice(0, 5).map(e => e.textContent)"
        served = page.eval_on_selector_all("#leaks details.leak summary code", names)
        page.fill("#explorer input[name=focus]", "main")
        page.click("#explorer button[type=submit]")
        page.wait_for_function("window.heapvizExplorer.lastGraph && "
                               "/nodes/.test(document.getElementById('explorer-status').textContent)",
                               timeout=120_000)
        redrawn = page.eval_on_selector_all("#leaks details.leak summary code", names)
        assert watch.errors == []
    assert served and all(_not_wrapper(n) for n in served + redrawn), (served, redrawn)
    assert redrawn[0] == served[0]

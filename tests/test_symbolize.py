"""Symbolization against real binaries: moved, missing, stripped with separate debug files,
rebuilt, and the addr2line fallback."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, run_heapviz


def top_json(*args, env=None):
    r = run_heapviz("top", "--format", "json", *args, env=env)
    assert r.rc == 0, r.err
    return json.loads(r.out), r.err


def names(doc):
    return {r["name"]: r for r in doc["rows"]}


def relocated(examples: Path, tmp_path: Path, dump: str, binary: str) -> Path:
    """The dump with its program's path in the memory map pointing at a file that is gone."""
    text = (examples / dump).read_text()
    gone = str(tmp_path / "gone" / binary)
    (tmp_path / dump).write_text(text.replace(str(examples / binary), gone))
    return tmp_path / dump


def test_missing_binary_warns_and_still_writes_raw_frames(examples, tmp_path):
    prof = relocated(examples, tmp_path, "threads.0002.heap", "threads_series")
    out = tmp_path / "top.json"
    r = run_heapviz("top", "--format", "json", "-o", str(out), str(prof))
    assert r.rc == 0
    warning = [line for line in r.err.splitlines() if line.startswith("heapviz: warning:")]
    assert warning and "threads_series" in warning[0] and "--binary" in warning[0]
    assert str(prof) in warning[0]
    doc = json.loads(out.read_text())
    # one node for the binary's unnamed addresses, as pprof's [binary]; each address at addresses
    assert not [n for n in names(doc) if "+0x" in n] and names(doc)["[threads_series]"]["cum"] == 1109114
    assert doc["total"] == 1109114
    doc, _ = top_json(str(prof), "--granularity", "addresses")
    raw = [n for n in names(doc) if re.fullmatch(r"[0-9a-f]{16} threads_series\+0x[0-9a-f]+", n)]
    assert len(raw) >= 5


def test_binary_option_and_symbol_path_find_the_moved_binary(examples, tmp_path, expected):
    prof = relocated(examples, tmp_path, "threads.0002.heap", "threads_series")
    want = expected["threads"]["dumps"]["threads.0002.heap"]
    doc, err = top_json(str(prof), "--binary", str(examples / "threads_series"))
    assert {n: names(doc)[n]["flat"] for n in want} == want and "warning" not in err
    d = tmp_path / "symbols"
    d.mkdir()
    shutil.copy(examples / "threads_series", d / "threads_series")
    doc, err = top_json(str(prof), "--symbol-path", str(d))
    assert {n: names(doc)[n]["flat"] for n in want} == want and "warning" not in err
    doc, err = top_json(str(prof), env={"PPROF_BINARY_PATH": str(d)})
    assert {n: names(doc)[n]["flat"] for n in want} == want


def _strip_with_debuglink(src: Path, dst: Path, debug: Path) -> None:
    subprocess.run(["objcopy", "--only-keep-debug", str(src), str(debug)], check=True)
    subprocess.run(["objcopy", "--strip-all", f"--add-gnu-debuglink={debug}", str(src), str(dst)], check=True)


def _build_id(path: Path) -> str:
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True, check=True).stdout
    return out.split("Build ID:")[1].split()[0]


def test_stripped_pie_with_debuglink_gets_inline_frames(examples, tmp_path, expected):
    """A stripped PIE binary whose DWARF lives in a .debug file beside it (.gnu_debuglink)."""
    work = tmp_path / "bin"
    work.mkdir()
    _strip_with_debuglink(examples / "cxx_leaks", work / "cxx_leaks", work / "cxx_leaks.debug")
    prof = tmp_path / "cxx.heap"
    prof.write_text((examples / "cxx.0002.heap").read_text().replace(str(examples / "cxx_leaks"),
                                                                      str(work / "cxx_leaks")))
    doc, err = top_json(str(prof), "--all-frames")
    assert "warning" not in err
    assert "std::__new_allocator::allocate" in names(doc)  # an inline frame: only DWARF knows it
    doc, _ = top_json(str(prof))
    assert names(doc)["hv::grow_vector"]["flat"] == 8000


def test_build_id_directory_in_symbol_path(examples, tmp_path):
    work = tmp_path / "bin"
    work.mkdir()
    debug = tmp_path / "cxx_leaks.debug"
    _strip_with_debuglink(examples / "cxx_leaks", work / "cxx_leaks", debug)
    bid = _build_id(work / "cxx_leaks")
    store = tmp_path / "store" / ".build-id" / bid[:2]
    store.mkdir(parents=True)
    shutil.move(str(debug), store / f"{bid[2:]}.debug")
    prof = tmp_path / "cxx.heap"
    prof.write_text((examples / "cxx.0002.heap").read_text().replace(str(examples / "cxx_leaks"),
                                                                      str(work / "cxx_leaks")))
    doc, err = top_json(str(prof), "--symbol-path", str(tmp_path / "store"))
    assert names(doc)["hv::grow_vector"]["flat"] == 8000 and "warning" not in err
    # without the debug file the stripped binary still names exported symbols, with a warning
    doc, err = top_json(str(prof))
    assert "stripped" in err


def test_rebuilt_binary_is_detected(examples, tmp_path):
    """The program was rebuilt after the dump: addresses no longer land after call instructions."""
    src = ROOT / "examples" / "threads_series.c"
    other = tmp_path / "threads_series"
    subprocess.run(["gcc", "-O0", "-g", "-DHEAPVIZ_REBUILT", "-fno-inline", "-pthread", "-o", str(other), str(src),
                    "-ltcmalloc", "-Wl,--section-start=.text=0x1800"], check=True, capture_output=True)
    prof = relocated(examples, tmp_path, "threads.0002.heap", "threads_series")
    doc, err = top_json(str(prof), "--binary", str(other))
    assert "different build" in err and "--binary" in err
    assert doc["total"] == 1109114


def test_not_elf_binary_warns(examples, tmp_path):
    fake = tmp_path / "threads_series"
    fake.write_text("#!/bin/sh\necho not elf\n")
    prof = relocated(examples, tmp_path, "threads.0002.heap", "threads_series")
    doc, err = top_json(str(prof), "--binary", str(fake))
    assert "not an ELF file" in err
    assert "[threads_series]" in names(doc)


@pytest.mark.parametrize("tool", ["addr2line", "llvm-symbolizer"])
def test_both_symbolizers_agree_on_c_functions(examples, expected, tool):
    doc, _err = top_json(str(examples / "shlib.0002.heap"), "--symbolizer", tool)
    want = expected["shlib"]["dumps"]["shlib.0002.heap"]
    assert {n: names(doc)[n]["flat"] for n in want} == want


def test_symbolizer_none_gives_raw_frames(examples):
    doc, _ = top_json(str(examples / "recursion.0001.heap"), "--symbolizer", "none")
    assert all(re.fullmatch(r"\[[^]]+\]", r["name"]) for r in doc["rows"]) and "[recursion]" in names(doc)
    doc, _ = top_json(str(examples / "recursion.0001.heap"), "--symbolizer", "none", "--granularity", "lines")
    assert all("+0x" in r["name"] for r in doc["rows"])


def test_no_inlines_keeps_outermost_function(examples):
    doc, _ = top_json(str(examples / "cxx.0002.heap"), "--all-frames", "--no-inlines")
    assert "std::__new_allocator::allocate" not in names(doc)
    assert names(doc)["hv::grow_vector"]["flat"] == 8000


def test_granularities(examples):
    doc, _ = top_json(str(examples / "recursion.0001.heap"), "--granularity", "lines")
    assert any(r["name"].startswith("recurse ") and "recursion.c:" in r["name"] for r in doc["rows"])
    doc, _ = top_json(str(examples / "recursion.0001.heap"), "--files")
    assert any(r["name"].endswith("recursion.c") for r in doc["rows"])
    doc, _ = top_json(str(examples / "recursion.0001.heap"), "--granularity", "addresses")
    assert all(re.match(r"[0-9a-f]{16} ", r["name"]) for r in doc["rows"])
    total = sum(r["flat"] for r in doc["rows"])
    assert total == doc["total"] == 3748


def test_demangle_modes(examples):
    doc, _ = top_json(str(examples / "cxx.0002.heap"), "--demangle", "full")
    assert "hv::Pool<hv::Cell>::grow(unsigned long)" in names(doc)
    doc, _ = top_json(str(examples / "cxx.0002.heap"), "--demangle", "templates")
    assert "hv::Pool<hv::Cell>::grow" in names(doc)
    doc, _ = top_json(str(examples / "cxx.0002.heap"), "--demangle", "none")
    assert any(n.startswith("_ZN2hv") for n in names(doc))


def test_drop_frames_adds_project_wrappers(examples):
    doc, _ = top_json(str(examples / "recursion.0001.heap"), "--drop-frames", "recurse|ping|pong")
    assert names(doc)["main"]["flat"] == 3748

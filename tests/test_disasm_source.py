"""`heapviz disasm --source` (issue 16): each instruction group under its source line's text and
the callers its code is inlined into (objdump --inlines), the plain layout unchanged; and source
paths that DWARF records relative to a relative compilation directory (`-fdebug-prefix-map=$PWD=.`)
found again under the binary's compilation directory, by list and disasm --source."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, run_heapviz

SOURCES = ROOT / "examples"
_INSN = re.compile(r"^\s+(\S+)\s+(\S+)\s+[0-9a-f]+: ")


def _disasm(profile: Path, regex: str, *args: str, cwd: str | None = None) -> str:
    r = run_heapviz("disasm", regex, str(profile), *args, cwd=cwd)
    assert r.rc == 0, r.err
    return r.out


def test_source_and_inlined_callers_in_text_and_json(examples):
    source = (SOURCES / "cxx_leaks.cpp").read_text().splitlines()
    doc = json.loads(_disasm(examples / "cxx.0002.heap", "Pool::grow", "--source", "--format", "json",
                             "--source-path", str(SOURCES)))
    (rt,) = [r for r in doc["routines"] if r["name"] == "hv::Pool::grow"]
    hot = [i for i in rt["instructions"] if i["flat"]]
    assert hot and all(i["source"] == source[i["line"] - 1] for i in hot)  # the allocating line's text
    inlined = [i for i in rt["instructions"] if i["inlined"]]
    assert inlined, "std::vector::push_back is inlined into hv::Pool::grow"
    for i in inlined:  # the chain ends in the routine itself, at the line of the call, with its text
        outer = i["inlined"][-1]
        assert outer["function"] == "hv::Pool::grow" and outer["file"].endswith("cxx_leaks.cpp")
        assert outer["source"] == source[outer["line"] - 1] and "push_back" in outer["source"]
        assert i["function"].startswith("std::")
    assert max(len(i["inlined"]) for i in inlined) >= 2  # construct <- allocator_traits <- push_back <- grow

    text = _disasm(examples / "cxx.0002.heap", "^hv::Pool::grow$", "--source", "--source-path", str(SOURCES),
                   "--unit", "B")
    lines = text.splitlines()
    first = hot[0]
    # the group header above the allocating instruction: `;function file:line  text`
    at = next(k for k, ln in enumerate(lines) if ln.rstrip().endswith(f"{first['address']:x}: {first['text']}"))
    header = next(ln for ln in reversed(lines[:at]) if not _INSN.match(ln))
    assert header.strip() == f";hv::Pool::grow cxx_leaks.cpp:{first['line']}  {source[first['line'] - 1].strip()}"
    assert any(re.match(r"^ {34};  inlined into hv::Pool::grow cxx_leaks\.cpp:\d+  .*push_back", ln) for ln in lines)
    # the instruction rows are the plain ones', in the same order; only the group lines are added
    plain = _disasm(examples / "cxx.0002.heap", "^hv::Pool::grow$", "--unit", "B").splitlines()
    assert [ln for ln in lines if _INSN.match(ln)] == [ln.split(";")[0].rstrip() for ln in plain if _INSN.match(ln)]
    assert not any("inlined into" in ln for ln in plain) and plain[:3] == lines[:3]


def test_plain_json_has_no_source_fields(examples):
    doc = json.loads(_disasm(examples / "cxx.0002.heap", "^hv::Pool::grow$", "--format", "json"))
    assert all(set(i) == {"address", "text", "function", "file", "line", "flat", "cum"}
               for r in doc["routines"] for i in r["instructions"])


@pytest.fixture(scope="module")
def relative_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/recursion.c compiled from build/ as ../src/recursion.c with the build directory
    recorded as `.` (a reproducible build), then run under the heap profiler."""
    root = tmp_path_factory.mktemp("relative")
    (root / "src").mkdir()
    (root / "build").mkdir()
    shutil.copy(SOURCES / "recursion.c", root / "src" / "recursion.c")
    subprocess.run(["gcc", "-g", "-O1", "-fno-omit-frame-pointer", f"-fdebug-prefix-map={root / 'build'}=.",
                    "-o", "recursion", "../src/recursion.c", "-ltcmalloc"], cwd=root / "build", check=True,
                   timeout=120)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEAP", "LD_PRELOAD"))}
    subprocess.run([str(root / "build" / "recursion")], cwd=root, env=dict(env, HEAPPROFILE=str(root / "rec")),
                   check=True, timeout=120, capture_output=True)
    info = subprocess.run(["readelf", "--debug-dump=info", str(root / "build" / "recursion")], capture_output=True,
                          text=True, check=True).stdout
    assert re.search(r"DW_AT_comp_dir\s*:.*: \.$|DW_AT_comp_dir\s*: \.$", info, re.MULTILINE), \
        "the build directory is recorded as ."
    return root


def test_relative_dwarf_paths_are_resolved_against_the_compilation_directory(relative_build):
    profile = relative_build / "rec.0001.heap"
    r = run_heapviz("list", "^recurse$", str(profile), "--format", "json", cwd="/")
    assert r.rc == 0, r.err
    (rt,) = json.loads(r.out)["routines"]
    assert rt["file"] == "../src/recursion.c"  # as recorded: relative to the build directory
    assert rt["source"] == str(relative_build / "src" / "recursion.c") and rt["missing"] is None
    text = (relative_build / "src" / "recursion.c").read_text().splitlines()
    assert [row["text"] for row in rt["lines"]] == [text[row["line"] - 1] for row in rt["lines"]]
    doc = json.loads(_disasm(profile, "^recurse$", "--source", "--format", "json", cwd="/"))
    insts = doc["routines"][0]["instructions"]
    assert any(i["flat"] for i in insts)
    assert all(i["source"] == text[i["line"] - 1] for i in insts if i["line"])


def test_a_relative_path_with_no_such_file_still_says_not_found(relative_build, tmp_path):
    moved = tmp_path / "build"
    shutil.copytree(relative_build / "build", moved)  # no src/ next to it any more
    shutil.copy(relative_build / "rec.0001.heap", tmp_path)
    r = run_heapviz("list", "^recurse$", str(tmp_path / "rec.0001.heap"), "--binary", str(moved / "recursion"),
                    cwd="/")
    assert r.rc == 0, r.err
    assert "source not found: ../src/recursion.c" in r.out and str(tmp_path / "src" / "recursion.c") in r.out

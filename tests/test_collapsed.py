"""`--format collapsed`: folded stacks (`root;caller;leaf VALUE`) for flamegraph.pl and speedscope,
checked against google-pprof's own `--collapsed` on the same profile."""

from __future__ import annotations

import re
import subprocess
from collections import Counter

import pytest
from conftest import run_heapviz

from heapviz.graph.nodes import NodeOptions
from heapviz.model import Function, Line, Location, Sample
from heapviz.render.collapsed import frame_name, to_collapsed

FOLDED = re.compile(r"^[^;\n]+(?:;[^;\n]+)* -?\d+$")


def collapsed(*args: str) -> list[str]:
    r = run_heapviz("top", "--format", "collapsed", *args)
    assert r.rc == 0, r.err
    assert r.out.endswith("\n")
    return r.out.splitlines()


def parse(lines: list[str]) -> dict[tuple[str, ...], int]:
    out = {}
    for ln in lines:
        assert FOLDED.match(ln), ln
        stack, value = ln.rsplit(" ", 1)
        out[tuple(stack.split(";"))] = int(value)
    return out


def _user_only(stacks: dict[tuple[str, ...], int], keep: set[str]) -> Counter[tuple[str, ...]]:
    c: Counter[tuple[str, ...]] = Counter()
    for stack, v in stacks.items():
        c[tuple(f for f in stack if f in keep)] += v
    return c


def test_same_stacks_as_google_pprof(examples, expected, perl_pprof):
    path = examples / "recursion.0001.heap"
    ours = parse(collapsed(str(path)))
    assert sum(ours.values()) == expected["recursion"]["total_inuse"]["recursion.0001.heap"]
    proc = subprocess.run([perl_pprof, "--collapsed", str(examples / "recursion"), str(path)],
                          capture_output=True, text=True, timeout=120, check=True)
    theirs = parse([re.sub(r"<[0-9a-f]+>", "", ln) for ln in proc.stdout.splitlines() if ln.strip()])
    keep = {"main", "ping", "pong", "recurse"}
    assert _user_only(ours, keep) == _user_only(theirs, keep)
    for stack in ours:
        assert stack[0] == "_start" and stack[-1] in keep  # root first, leaf last


def test_sorted_deterministic_and_one_line_per_stack(examples):
    path = str(examples / "threads.0002.heap")
    a = collapsed(path)
    assert a == sorted(a)
    assert a == collapsed(path)
    stacks = [ln.rsplit(" ", 1)[0] for ln in a]
    assert len(stacks) == len(set(stacks))


def test_graph_command_and_folded_suffix(examples, tmp_path):
    path = str(examples / "cxx.0002.heap")
    top = run_heapviz("top", "--format", "collapsed", path)
    graph = run_heapviz("graph", "--format", "collapsed", path)
    out = tmp_path / "cxx.folded"
    by_suffix = run_heapviz("graph", path, "-o", str(out))
    assert top.rc == graph.rc == by_suffix.rc == 0, by_suffix.err
    assert top.out == graph.out == out.read_text()


@pytest.mark.parametrize("args,check", [
    (("--sample-index", "inuse_objects"), lambda s: sum(s.values()) == 119),
    (("--granularity", "lines"), lambda s: all(re.search(r"\.(cpp|h|tcc|c):\d+$", st[-1]) for st in s)),
    (("--demangle", "full"), lambda s: any(st[-1] == "(anonymous namespace)::leak_here()" for st in s)),
    (("--focus", "grow_map"), lambda s: list(s.values()) == [4000]),
])
def test_view_options_apply(examples, args, check):
    stacks = parse(collapsed(str(examples / "cxx.0002.heap"), *args))
    assert check(stacks), stacks


def test_inline_frames_and_no_inlines(examples):
    path = str(examples / "cxx.0002.heap")
    inl = parse(collapsed(path, "--all-frames"))
    flat = parse(collapsed(path, "--all-frames", "--no-inlines"))
    assert sum(inl.values()) == sum(flat.values()) == 36569
    assert max(map(len, inl)) > max(map(len, flat))


def test_sampled_values_are_summed_then_rounded(examples):
    stacks = parse(collapsed(str(examples / "sampled.heap")))
    r = run_heapviz("top", "--format", "json", str(examples / "sampled.heap"))
    import json

    total = json.loads(r.out)["total"]
    assert abs(sum(stacks.values()) - total) <= len(stacks)  # rounding per stack only


def test_diff_keeps_negatives_unless_dropped(examples):
    # spike_in_main is live in dump 3 and freed before dump 4
    new, old = str(examples / "threads.0004.heap"), str(examples / "threads.0003.heap")
    both = parse(collapsed(new, "--base", old))
    grown = parse(collapsed(new, "--base", old, "--drop-negative"))
    assert any(v < 0 and st[-1] == "spike_in_main" for st, v in both.items())
    assert grown and all(v > 0 for v in grown.values())
    assert grown == {st: v for st, v in both.items() if v > 0}


def test_separator_and_newlines_inside_names_are_replaced(tmp_path):
    assert frame_name("a;b\nc\rd") == "a:b c d"
    assert frame_name("") == "<unknown>"
    fns = [Function(1, "ns::op;er()", "x"), Function(2, "multi\nline", "y")]
    locs = [Location(1, 0x10, lines=(Line(fns[0]),)), Location(2, 0x20, lines=(Line(fns[1]),))]
    text = to_collapsed([Sample([7], (locs[0], locs[1])), Sample([3], (locs[0], locs[1]))], 0, NodeOptions())
    assert text == "multi line;ns::op:er 10\n"


def test_hostile_names_from_a_heapcheck_log(tmp_path):
    """A heap-checker log brings its own names; `;` in them must not split a frame."""
    log = tmp_path / "hostile.log"
    log.write_text("Leak check _main_ detected leaks of 10 bytes in 1 objects\n"
                   "Leak of 10 bytes in 1 objects allocated from:\n"
                   "\t@ 401000 evil;name<a;b>\n\t@ 401010 main\n")
    assert collapsed(str(log), "--demangle", "full") == ["main;evil:name<a:b> 10"]

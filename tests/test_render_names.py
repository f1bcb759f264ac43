"""Awkward and hostile names through DOT and the SVG Graphviz writes (real `dot`)."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

import pytest

from conftest import DATA
from heapviz.graph.build import GraphOptions, trimmed_graph
from heapviz.graph.nodes import NodeOptions
from heapviz.model import Function, Line, Location, Profile, Sample
from heapviz.render.dot import escape, render, shorten_function_name, to_dot
from heapviz.units import format_value

NAMES = [
    "std::vector<int, std::allocator<int> >::operator[](unsigned long)",
    "operator<<(std::ostream&, hv::Record const&)",
    "hv::Foo::operator()() const",
    "main::{lambda()#1}::operator()() const",
    "(anonymous namespace)::leak_here()",
    "hv::name[abi:cxx11]() const",
    'weird "quoted" \\ back { } | name\\N\\l',
    "</title><script>alert(1)</script>",
    '"]; a -> b [ URL="javascript:alert(2)"',
    "&lt;entity&amp; & && a<b>c",
    "hv::Cache<std::map<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >, int>, 17>"
    "::lookup(int)",
]


def hostile_profile() -> Profile:
    root = Function(1, "main", "main", "main.cc")
    prof = Profile(sample_types=[], source="hostile.heap")
    from heapviz.model import ValueType

    prof.sample_types = [ValueType("inuse_space", "bytes")]
    prof.functions.append(root)
    root_loc = Location(1, 0x1000, None, (Line(root, 10),))
    prof.locations.append(root_loc)
    for i, name in enumerate(NAMES):
        fn = Function(i + 2, name, name, "x.cc")
        loc = Location(i + 2, 0x2000 + i, None, (Line(fn, 5),))
        prof.functions.append(fn)
        prof.locations.append(loc)
        prof.samples.append(Sample([1000 * (i + 1)], (loc, root_loc)))
    return prof


def _dot() -> str:
    prof = hostile_profile()
    cg = trimmed_graph(prof.samples, 0, NodeOptions(demangle="full"), GraphOptions(), prof.total(0))
    return to_dot(cg, ["File: <b>&\"x\"", "Type: inuse_space"], lambda v: format_value(v, "bytes", "B"), "t<i>")


def test_escape():
    assert escape('a"b\\c&d') == 'a\\"b\\\\c&amp;d'
    assert escape("a\\N", tooltip=True) == "a\\\\\\\\N"
    assert escape("x\ny\x00") == "x y "


def test_labels_shorten_templates_but_not_operators():
    assert shorten_function_name("hv::Cache<std::map<int, int>, 17>::lookup") == "hv::Cache<…>::lookup"
    assert shorten_function_name("std::vector<int>::push_back") == "std::vector<int>::push_back"
    assert shorten_function_name("hv::operator<<") == "hv::operator<<"
    assert shorten_function_name("std::operator<< <char>") == "std::operator<< <char>"
    assert shorten_function_name("(anonymous namespace)::leak_here") == "leak_here"


def test_hostile_names_survive_dot_and_svg_intact():
    dot = _dot()
    assert not re.search(r'\sURL=(?!\\")', dot) and "href" not in dot
    svg = render(dot, "svg")
    root = ET.fromstring(svg)  # parses: nothing broke out of its attribute or element
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))
    titles = [a.get("{http://www.w3.org/1999/xlink}title") or "" for a in root.iter("{http://www.w3.org/2000/svg}a")]
    for name in NAMES:
        assert any(t.startswith(name + " (") for t in titles), name
    for a in root.iter("{http://www.w3.org/2000/svg}a"):
        href = a.get("{http://www.w3.org/1999/xlink}href")
        assert href is None, href
    text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "Cache<…>" in text and "operator<<" in text and "File: <b>&\"x\"" in text


def test_hostile_golden_dot():
    golden = DATA / "golden" / "hostile.dot"
    dot = _dot()
    if os.environ.get("HEAPVIZ_REGEN_GOLDEN"):
        golden.write_text(dot)
    assert dot == golden.read_text()


@pytest.mark.parametrize("fmt", ["pdf", "png"])
def test_hostile_names_render_in_binary_formats(fmt):
    data = render(_dot(), fmt)
    assert data[:4] in (b"%PDF", b"\x89PNG")

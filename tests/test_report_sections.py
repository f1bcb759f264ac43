"""A profile's kind selects the report's sections: collect() computes those and no other."""

from __future__ import annotations

import dataclasses
import os
import subprocess

import pytest
from conftest import ROOT

from heapviz.formats import load, load_series
from heapviz.kinds import CPU, HEAP, MASSIF, MEMCHECK, OTHER, SECTIONS
from heapviz.prune import drop_allocator_frames
from heapviz.report.collect import ReportOptions, collect
from heapviz.symbolize import SymbolizeOptions, symbolize


def report_of(profile, dumps=None, mode="single"):
    reports = symbolize(profile, SymbolizeOptions())
    profile = drop_allocator_frames(profile).profile
    index = profile.sample_index(profile.default_sample_type or profile.profile_kind.default_sample_type)
    return collect(profile, profile.samples, ReportOptions(sample_index=index), reports, dumps=dumps, mode=mode)


def test_every_kind_selects_known_sections():
    for kind in (HEAP, CPU, OTHER, MEMCHECK, MASSIF):
        assert kind.sections and kind.sections <= set(SECTIONS)
    assert HEAP.shows("wrappers") and not CPU.shows("wrappers") and not CPU.shows("hidden")
    assert MASSIF.shows("timeline") and not HEAP.shows("timeline")
    with pytest.raises(KeyError):
        HEAP.shows("no such section")


def test_a_heap_report_has_every_heap_section(examples):
    data = report_of(load(str(examples / "cxx.0002.heap")))
    assert data.leaks and data.tables and data.peek and data.flame is not None and data.site_sources
    assert data.binaries and data.graph_dot


def test_a_section_the_kind_leaves_out_is_not_computed(examples):
    profile = load(str(examples / "cxx.0002.heap"))
    fewer = dataclasses.replace(HEAP, sections=HEAP.sections - {"peek", "flame", "source", "binaries", "suspects"})
    profile.profile_kind = fewer
    data = report_of(profile)
    assert data.leaks and data.tables  # still there
    assert data.peek == [] and data.flame is None and data.site_sources == {} and data.binaries == []
    assert data.suspects == [] and data.suspect_stacks == 0


def test_cpu_reports_have_no_allocation_sections(examples):
    data = report_of(load(str(examples / "cpu_api.prof")))
    assert data.wrappers == [] and data.notes == [] and data.timeline is None
    assert data.leaks and data.flame is not None  # hot paths and their flame graph


def test_massif_series_has_its_timeline(tmp_path):
    subprocess.run(["make", "-s", "-C", str(ROOT / "examples"), f"OUT={tmp_path}", str(tmp_path / "massif_growth")],
                   check=True, stdout=subprocess.DEVNULL, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "VALGRIND_OPTS")}
    subprocess.run(["valgrind", "-q", "--tool=massif", "--time-unit=B", "--massif-out-file=massif.out.1",
                    "./massif_growth"], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    series = load_series(str(tmp_path / "massif.out.1"))
    for p in series:
        symbolize(p, SymbolizeOptions())
    data = report_of(series[-1], dumps=series, mode="series")
    assert data.timeline is not None and data.timeline.times and data.binaries == []


def test_the_page_lists_the_heaviest_callees_and_counts_the_rest(examples, monkeypatch):
    from heapviz.report import html

    data = report_of(load(str(examples / "cxx.0002.heap")))
    entry = next(e for e in data.peek if len(e.callees) > 2)
    monkeypatch.setattr(html, "PEEK_ROWS", 2)
    page = html.write_html(data).decode()
    block = page[page.index(f'<details class="peek" data-names="{entry.name}'):]
    block = block[:block.index("</details>")]
    assert block.count('<tr class="callee">') == 2 and block.index(entry.callees[1].name) < block.index("more callees")
    assert f"… {len(entry.callees) - 2} more callees, each lighter than those above" in block

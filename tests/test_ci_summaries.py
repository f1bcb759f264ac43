"""The CI summaries: `-o summary.md` (Markdown for a job's step summary or a pull-request comment)
and `-o leaks.junit.xml` (JUnit XML, one test case per threshold). Deterministic, and escaped:
hostile names keep every table row's cells and parse back as XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from conftest import run_heapviz
from heapviz.graph.nodes import NodeOptions
from heapviz.model import Function, Line, Location, Profile, Sample
from heapviz.report.collect import ReportData, ReportOptions, Threshold, collect
from heapviz.report.junit import write_junit, xml_text
from heapviz.report.summary_md import one_line, write_markdown
from heapviz.symbolize import MappingReport
from heapviz.writers import output_for, suffixes
from test_report_hostile import hostile_profile

STEADY = ["leak_in_worker_b", "leak_in_worker_a", "leak_in_worker_c"]
# Names that would break a Markdown table or code span, or XML 1.0, on top of hostile_profile's.
AWKWARD = [
    "operator|(Flags, Flags)",
    "a || b`c``d",
    "tmpl<`>|<`>::f",
    "trailing backslash \\",
    "\\| escaped pipe already",
    "*bold* _it_ ~~gone~~ [link](http://x) ![img](y) <!-- c -->",
    "line\nbreak\r\tand tab",
    "not xml \ufffe\uffff",
]


def awkward_profile(scale: int = 1) -> tuple[Profile, list[MappingReport]]:
    """hostile_profile() with AWKWARD's names as more leaf functions; values times `scale`."""
    prof, reports = hostile_profile()
    mapping = prof.mappings[0]
    root = prof.locations[0]
    for i, name in enumerate(AWKWARD):
        fn = Function(500 + i, name, name, f"/src/{name}.cc")
        loc = Location(500 + i, 0x3000 + i, mapping, (Line(fn, 5),))
        prof.functions.append(fn)
        prof.locations.append(loc)
        n = 20000 + 700 * i  # above every hostile name: all make the top 10
        prof.samples.append(Sample([i + 1, n, i + 1, n], (loc, root)))
    for s in prof.samples:
        s.values = [v * scale for v in s.values]
    return prof, reports


def _data(series: bool) -> ReportData:
    opts = ReportOptions(sample_index=1, node_options=NodeOptions(demangle="full"))
    if not series:
        prof, reports = awkward_profile()
        r = collect(prof, prof.samples, opts, reports)
    else:
        first, reports = awkward_profile()
        last, _ = awkward_profile(scale=3)
        first.sequence, last.sequence = 1, 2
        r = collect(last, last.samples, opts, reports, dumps=[first, last], mode="series")
    last_dump = r.dumps[-1].inuse_space
    r.thresholds = [Threshold("growth", 1024, last_dump - r.dumps[0].inuse_space, series),
                    Threshold("inuse", 1024, last_dump, True)]
    r.outputs = [("leak <b>|`x`.html", "html"), ("summary.md", "markdown"), ("l.junit.xml", "junit")]
    return r


def cells(row: str) -> list[str]:
    """A GitHub table row's cells as GitHub splits them: at each pipe not escaped by a backslash."""
    assert row.startswith("|") and row.endswith("|"), row
    out, cur, i = [], "", 1
    while i < len(row) - 1:
        if row[i] == "\\":
            cur += row[i:i + 2]
            i += 2
            continue
        if row[i] == "|":
            out.append(cur)
            cur = ""
        else:
            cur += row[i]
        i += 1
    return [*out, cur]


def unescape(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell.strip())


def tables(text: str) -> list[list[list[str]]]:
    """Every table in the Markdown: its rows' cells, header first (the delimiter row left out)."""
    found: list[list[list[str]]] = []
    block: list[str] = []
    for line in [*text.split("\n"), ""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            found.append([cells(row) for i, row in enumerate(block) if i != 1])
            block = []
    return found


@pytest.mark.parametrize("series", [False, True], ids=["single", "series"])
def test_markdown_tables_keep_their_cells_and_names(series):
    r = _data(series)
    text = write_markdown(r).decode("utf-8")
    assert text == write_markdown(_data(series)).decode("utf-8")  # deterministic
    found = tables(text)
    assert len(found) == (3 if series else 2)  # thresholds, (dumps,) suspects or leak sites
    for table in found:
        assert len({len(row) for row in table}) == 1, table
    culprits = found[-1][1:]
    if series:
        expected = [one_line(s.function) for s in r.suspects if s.growth_bytes > 0][:10]
    else:
        expected = [one_line(site.user_frame.function if site.user_frame else site.frames[0].function)
                    for site in r.leaks[:10]]
    assert [unescape(row[1]) for row in culprits] == expected
    # nothing from a profile starts HTML, a code span or a link: each such character is escaped
    body = text.replace("<sub>", "").replace("</sub>", "")
    assert not re.search(r"(?<!\\)[<`\[]", re.sub(r"\\\\", "", body)), body
    assert "\x00" not in text and "\x1b" not in text
    assert r"Full reports: leak \<b\>\|\`x\`.html (HTML report)." in text
    assert "summary.md" not in text and "l.junit.xml" not in text


def test_markdown_names_awkward_leaf_functions():
    text = write_markdown(_data(False)).decode("utf-8")
    rows = tables(text)[-1][1:]
    names = [unescape(row[1]) for row in rows]
    assert "operator|(Flags, Flags)" in names and "tmpl<`>|<`>::f" in names and "a || b`c``d" in names


@pytest.mark.parametrize("series", [False, True], ids=["single", "series"])
def test_junit_parses_back_with_one_case_per_threshold(series):
    r = _data(series)
    data = write_junit(r)
    assert data == write_junit(_data(series))  # deterministic
    root = ET.fromstring(data)
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["in-use growth", "in-use bytes in the last dump"]
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == (2 if series else 1)
    assert root.get("failures") == suite.get("failures") == str(len(failed))
    assert root.get("tests") == suite.get("tests") == "2"
    inuse = cases[1].find("failure")
    assert inuse is not None
    top = r.leaks[0]
    name = top.user_frame.function if top.user_frame else top.frames[0].function
    message = inuse.get("message", "")
    assert "is over the limit of 1kB" in message and xml_text(one_line(name)) in message
    assert len((inuse.text or "").splitlines()) == 1 + min(10, len(r.leaks))
    if series:
        growth = cases[0].find("failure")
        assert growth is not None and "top suspects: " in growth.get("message", "")
        assert xml_text(one_line(r.suspects[0].function)) in growth.get("message", "")
    else:
        assert cases[0].find("system-out") is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["reports"] == "leak <b>|`x`.html (HTML report)"
    assert "<script>" not in data.decode("utf-8")  # escaped by the XML writer


def test_junit_without_thresholds_has_no_test_cases():
    r = _data(False)
    r.thresholds = []
    root = ET.fromstring(write_junit(r))
    assert root.get("tests") == "0" and root.get("failures") == "0"
    assert not list(root.iter("testcase"))
    assert "No thresholds set" in write_markdown(r).decode("utf-8")


def test_suffixes_pick_the_summaries():
    assert output_for("leaks.junit.xml", "report").format == "junit"
    assert output_for("LEAKS.JUNIT.XML", "report").format == "junit"
    assert output_for("summary.md", "report").format == "markdown"
    assert output_for("results.xml", "report") is None  # which XML is not guessed
    assert output_for("summary.md", "graph") is None
    for name in ("summary.md", "l.junit.xml"):
        out = output_for(name, "report")
        assert out is not None and not out.laid_out  # never runs Graphviz
    assert suffixes("report").endswith(".md or .junit.xml")


def test_nightly_summaries_from_the_command_line(examples, tmp_path):
    dumps = [str(examples / f"threads.000{i}.heap") for i in (1, 2, 3, 4)]
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        out.mkdir()
        r = run_heapviz("report", *dumps, "-o", str(out / "summary.json"), "-o", str(out / "summary.md"),
                        "-o", str(out / "leaks.junit.xml"), "--fail-if-growth", "64KiB", "--fail-if-inuse", "10MB")
        assert r.rc == 3, r.err
        assert "wrote" in r.err and "summary.md" in r.err
        runs.append(((out / "summary.md").read_bytes(), (out / "leaks.junit.xml").read_bytes()))
    assert runs[0] == runs[1]  # byte-identical from the same inputs
    md, junit = runs[0][0].decode("utf-8"), runs[0][1]
    assert md.startswith("## Heap profile of threads\\_series\n")
    assert "**Threshold exceeded**: in-use growth +" in md
    assert "Full reports: summary.json (JSON summary)." in md
    suspects = tables(md)[-1]
    assert suspects[0][1].strip() == "Function"
    assert [unescape(row[1]) for row in suspects[1:4]] == STEADY
    assert all(row[4].strip() == "steady" for row in suspects[1:4])
    root = ET.fromstring(junit)
    assert root.get("tests") == "2" and root.get("failures") == "1"
    failure = next(root.iter("failure"))
    assert failure.get("message", "").split("top suspects: ")[1].split(" +")[0] == STEADY[0]


def test_plain_xml_is_refused(examples, tmp_path):
    r = run_heapviz("report", str(examples / "cxx.0002.heap"), "-o", str(tmp_path / "out.xml"))
    assert r.rc == 2
    assert ".html, .pdf or .json suffix for a report, or .md or .junit.xml for a CI summary" in r.err
    assert not (tmp_path / "out.xml").exists()

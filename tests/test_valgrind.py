"""Valgrind memcheck input: its XML and text log from real runs of examples/memcheck_leaks.cpp
(every leak kind, made at test time), checked against valgrind's own LEAK SUMMARY of the same
options and the bytes each site is known to leak; hand-written inputs for the odd frame forms,
protocol 6's summary and bad or hostile input.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_heapviz
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heapviz.errors import InputError
from heapviz.formats import FORMATS, ReadLimits, load, load_bytes
from heapviz.formats import valgrind_memcheck as vm
from heapviz.model import Profile
from heapviz.prune import drop_allocator_frames

KINDS = ("definite", "indirect", "possible", "reachable")
SUMMARY_WORDS = {"definitely lost": "definite", "indirectly lost": "indirect", "possibly lost": "possible",
                 "still reachable": "reachable"}
# examples/memcheck_leaks.cpp's header: (kind, bytes, blocks) allocated by each site's leaf function
# once valgrind's allocator frames (malloc, calloc, realloc, operator new/new[]) are dropped.
SITES = {
    "lose_block": ("definite", 1000, 1),
    "lose_calloc": ("definite", 500, 1),
    "lose_realloc": ("definite", 600, 1),
    "lose_list": ("definite", 48, 1),
    "make_node": ("indirect", 432, 9),
    "lose_widget": ("definite", 24, 1),
    "lose_array": ("definite", 200, 1),
    "inline_alloc": ("definite", 700, 1),
    "keep_interior": ("possible", 2000, 1),
    "keep_reachable": ("reachable", 3000, 1),
}
ALLOCATORS = {"malloc", "calloc", "realloc", "operator new", "operator new[]"}
SOURCE = ROOT / "examples" / "memcheck_leaks.cpp"
RUNS = {  # file -> valgrind options besides --leak-check=full
    "all.xml": ["--show-leak-kinds=all", "--xml=yes", "--xml-file=all.xml"],
    "all.log": ["--show-leak-kinds=all", "--log-file=all.log"],
    "default.xml": ["--xml=yes", "--xml-file=default.xml"],
    "default.log": ["--log-file=default.log"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/memcheck_leaks built and run under memcheck once per mode (four runs at once)."""
    assert shutil.which("valgrind"), "valgrind is required (scripts/install-deps.sh test installs it)"
    out = tmp_path_factory.mktemp("memcheck")
    subprocess.run(["make", "-s", "-C", str(ROOT / "examples"), f"OUT={out}", str(out / "memcheck_leaks")],
                   check=True, stdout=subprocess.DEVNULL, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "VALGRIND_OPTS", "HEAPPROFILE")}
    procs = [subprocess.Popen(["valgrind", "--leak-check=full", *opts, "./memcheck_leaks"], cwd=out, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for opts in RUNS.values()]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    return out


def leak_summary(log: Path) -> dict[str, tuple[int, int]]:
    """Valgrind's own LEAK SUMMARY, read independently of heapviz's parser."""
    found = {}
    for m in re.finditer(r"==\d+==\s+(definitely lost|indirectly lost|possibly lost|still reachable): "
                         r"([\d,]+) bytes in ([\d,]+) blocks", log.read_text()):
        found[SUMMARY_WORDS[m.group(1)]] = (int(m.group(2).replace(",", "")), int(m.group(3).replace(",", "")))
    assert set(found) == set(KINDS), log.read_text()
    return found


def totals(profile: Profile) -> dict[str, tuple[int, int]]:
    return {k: (profile.total_of(f"{k}_bytes"), profile.total_of(f"{k}_blocks")) for k in KINDS}


def flat_by_leaf(profile: Profile, sample_type: str) -> dict[str, int]:
    """Each leaf function's value once allocator frames are dropped, as `top` shows flat."""
    pruned = drop_allocator_frames(profile).profile
    i = pruned.sample_index(sample_type)
    out: dict[str, int] = {}
    for s in pruned.samples:
        if s.values[i]:
            name = s.locations[0].lines[0].function.name.split("(")[0]
            out[name] = out.get(name, 0) + int(s.values[i])
    return out


def top_json(path: Path, *args: str) -> tuple[dict, str]:
    r = run_heapviz("top", "--format", "json", str(path), *args)
    assert r.rc == 0, r.err
    return json.loads(r.out), r.err


def source_line(text: str) -> int:
    (n,) = [i for i, line in enumerate(SOURCE.read_text().splitlines(), 1) if text in line]
    return n


# ---- totals against valgrind's LEAK SUMMARY ---------------------------------------------------

@pytest.mark.parametrize("name,log", [("all.log", "all.log"), ("all.xml", "all.log"),
                                      ("default.log", "default.log")])
def test_totals_per_kind_equal_valgrinds_leak_summary(runs, name, log):
    """The text log has its own summary; protocol 4 XML has none, so the text log of a run with
    the same options is the reference (the program leaks the same every run)."""
    profile = load(str(runs / name))
    assert totals(profile) == leak_summary(runs / log)
    assert profile.total_of("leaked_bytes") == sum(leak_summary(runs / log)[k][0] for k in ("definite", "indirect"))
    assert profile.total_of("leaked_blocks") == sum(leak_summary(runs / log)[k][1] for k in ("definite", "indirect"))


def test_default_kinds_xml_without_summary_says_what_is_short(runs):
    """Valgrind's default kinds list definite and possible records only; protocol 4 XML has no
    summary to fill in the rest: bytes of the listed kinds and of the indirect parts match, and
    the warnings say what is missing."""
    profile = load(str(runs / "default.xml"))
    summary = leak_summary(runs / "default.log")
    got = totals(profile)
    assert got["definite"] == summary["definite"] and got["possible"] == summary["possible"]
    assert got["indirect"] == (summary["indirect"][0], 0)
    assert got["reachable"] == (0, 0)
    text = "\n".join(profile.warnings)
    assert "--show-leak-kinds=all" in text and "indirectly lost blocks" in text


def test_protocol6_leak_summary_fills_unlisted_kinds(runs):
    """Protocol 6 (valgrind 3.25+) adds <leak_summary>: written here into the default-kinds XML
    of this valgrind, the totals equal the summary, unlisted kinds under one pseudo frame."""
    summary = leak_summary(runs / "default.log")
    xml = (runs / "default.xml").read_text()
    xml = xml.replace("<protocolversion>4</protocolversion>", "<protocolversion>6</protocolversion>")
    block = "".join(f"<{tag}><bytes>{summary[k][0]}</bytes><in_blocks>{summary[k][1]}</in_blocks></{tag}>"
                    for tag, k in (("definitely_lost", "definite"), ("indirectly_lost", "indirect"),
                                   ("possibly_lost", "possible"), ("still_reachable", "reachable")))
    xml = xml.replace("</valgrindoutput>", f"<leak_summary>{block}<suppressed><bytes>0</bytes><in_blocks>0"
                                          "</in_blocks></suppressed></leak_summary>\n</valgrindoutput>")
    profile = load_bytes(xml.encode(), "v6.xml")
    assert totals(profile) == summary
    assert flat_by_leaf(profile, "reachable_bytes") == {vm.NOT_LISTED: summary["reachable"][0]}
    assert not any("protocol version" in w for w in profile.warnings)


# ---- the double count -------------------------------------------------------------------------

def test_direct_and_indirect_counted_once(runs):
    """'480 (48 direct, 432 indirect) bytes in 1 blocks': with --show-leak-kinds=all the 432
    bytes are make_node's own indirectly-lost record, so lose_list keeps 48; with the default
    kinds there is no such record and the 432 bytes go under indirectly lost at lose_list."""
    for name in ("all.xml", "all.log", "default.xml", "default.log"):
        assert "480 (48 direct, 432 indirect) bytes in 1 blocks are definitely lost" in (runs / name).read_text()
    for name in ("all.xml", "all.log"):
        profile = load(str(runs / name))
        assert flat_by_leaf(profile, "definite_bytes")["lose_list"] == 48
        assert flat_by_leaf(profile, "indirect_bytes") == {"make_node": 432}
        assert flat_by_leaf(profile, "leaked_bytes")["lose_list"] == 48
    for name in ("default.xml", "default.log"):
        profile = load(str(runs / name))
        assert flat_by_leaf(profile, "definite_bytes")["lose_list"] == 48
        assert flat_by_leaf(profile, "indirect_bytes") == {"lose_list": 432}
        assert flat_by_leaf(profile, "leaked_bytes")["lose_list"] == 480
    assert flat_by_leaf(load(str(runs / "default.log")), "indirect_blocks") == {"lose_list": 9}


def test_indirect_blocks_split_over_records_by_bytes():
    """Without indirectly-lost records valgrind states no block count for each record's indirect
    part: the summary's indirect blocks are split by indirect bytes, summing to the summary."""
    log = "\n".join([
        "==7== 30 (10 direct, 20 indirect) bytes in 1 blocks are definitely lost in loss record 1 of 2",
        "==7==    at 0x4848899: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)",
        "==7==    by 0x10A000: a (a.c:1)",
        "==7== ",
        "==7== 50 (10 direct, 40 indirect) bytes in 1 blocks are definitely lost in loss record 2 of 2",
        "==7==    at 0x4848899: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)",
        "==7==    by 0x10B000: b (b.c:1)",
        "==7== ",
        "==7== LEAK SUMMARY:",
        "==7==    definitely lost: 20 bytes in 2 blocks",
        "==7==    indirectly lost: 60 bytes in 7 blocks",
        "==7==      possibly lost: 0 bytes in 0 blocks",
        "==7==    still reachable: 0 bytes in 0 blocks",
        "==7==         suppressed: 0 bytes in 0 blocks", ""])
    profile = load_bytes(log.encode(), "split.log")
    assert flat_by_leaf(profile, "indirect_bytes") == {"a": 20, "b": 40}
    assert flat_by_leaf(profile, "indirect_blocks") == {"a": 2, "b": 5}
    assert totals(profile)["indirect"] == (60, 7)
    assert profile.warnings == []


# ---- the default view, sites, frames ----------------------------------------------------------

def test_default_view_is_leaked_definitely_plus_indirectly(runs):
    summary = leak_summary(runs / "all.log")
    for name in ("all.xml", "all.log"):
        doc, err = top_json(runs / name)
        assert doc["sample_index"] == "leaked_bytes"
        assert doc["total"] == summary["definite"][0] + summary["indirect"][0] == 3504
        assert "warning" not in err
        names = {row["name"] for row in doc["rows"]}
        assert not names & ALLOCATORS and "keep_interior" not in names and "keep_reachable" not in names
    r = run_heapviz("top", str(runs / "all.xml"), "--sample-index", "possible_bytes")
    assert r.rc == 0 and "Type: possible_bytes" in r.out and "keep_interior" in r.out


@pytest.mark.parametrize("name", ["all.xml", "all.log"])
def test_known_bytes_and_blocks_per_site(runs, name):
    profile = load(str(runs / name))
    for kind in KINDS:
        want_bytes = {f: b for f, (k, b, _) in SITES.items() if k == kind}
        want_blocks = {f: n for f, (k, _, n) in SITES.items() if k == kind}
        assert flat_by_leaf(profile, f"{kind}_bytes") == want_bytes, kind
        assert flat_by_leaf(profile, f"{kind}_blocks") == want_blocks, kind
    doc, _ = top_json(runs / name, "--sample-index", "definite_bytes")
    assert {r["name"]: r["flat"] for r in doc["rows"] if r["flat"]} == {
        f: b for f, (k, b, _) in SITES.items() if k == "definite"}
    assert max(r["cum"] for r in doc["rows"] if r["name"] == "outer_caller") == 700


@pytest.mark.parametrize("name", ["all.xml", "all.log"])
def test_frames_symbolized_as_valgrind_printed_them(runs, name):
    """fn, file and line straight from valgrind; the inlined inline_alloc stays its own frame, an
    inline frame of the location it shares with outer_caller (valgrind prints both at one ip)."""
    profile = load(str(runs / name))
    by_leaf = {}
    for s in drop_allocator_frames(profile).profile.samples:
        by_leaf[s.locations[0].lines[0].function.name] = s
    block = by_leaf["lose_block()"].locations
    fn = block[0].lines[0].function
    want_file = str(SOURCE) if name.endswith(".xml") else "memcheck_leaks.cpp"
    assert (fn.filename, block[0].lines[0].line) == (want_file, source_line("malloc(1000)"))
    assert block[-1].lines[0].function.name == "main"
    inlined = by_leaf["inline_alloc"].locations[0]
    assert [(ln.function.name, ln.line) for ln in inlined.lines] == [
        ("inline_alloc", source_line("void *p = malloc(n);")), ("outer_caller()", source_line("inline_alloc(700)"))]
    raw = [s for s in profile.samples if any(ln.function.name == "inline_alloc" for loc in s.locations
                                             for ln in loc.lines)]
    assert raw[0].locations[0].lines[0].function.name == "malloc"  # dropped only by the pruner
    assert profile.symbolized and not profile.mappings
    r = run_heapviz("top", str(runs / name), "--lines")
    assert r.rc == 0 and f"inline_alloc {want_file}:{source_line('void *p = malloc(n);')}" in r.out


def test_top_graph_report_on_both_files(runs, tmp_path):
    for name in ("all.xml", "all.log"):
        stem = tmp_path / name.replace(".", "_")
        r = run_heapviz("graph", str(runs / name), "-o", f"{stem}.svg")
        assert r.rc == 0, r.err
        assert "lose_block" in Path(f"{stem}.svg").read_text()
        r = run_heapviz("report", str(runs / name), "-o", f"{stem}.html", "-o", f"{stem}.json")
        assert r.rc == 0, r.err
        summary = json.loads(Path(f"{stem}.json").read_text())
        assert summary["sample_type"] == "leaked_bytes"
        html = Path(f"{stem}.html").read_text()
        assert "lose_block" in html and "memcheck_leaks.cpp" in html
        r = run_heapviz("top", str(runs / name), "--nodecount", "3")
        assert r.rc == 0 and "lose_block" in r.out


# ---- CI logs and detection --------------------------------------------------------------------

def test_ci_log_with_noise_around_and_timestamps(runs, tmp_path):
    lines = (runs / "all.log").read_text().splitlines()
    noise_before = ["##[group]Run make check", "gcc -O2 -c x.c -o x.o", "   at 0x1234: not_a_frame (x.c:1)",
                    "PASS: test_parser"]
    noise_after = ["==== 3 passed ====", "   by 0x9999: also_noise (y.c:2)", "##[endgroup]"]
    stamped = [f"2026-11-29T10:00:{i % 60:02d}.1234567Z {line}" for i, line in enumerate(lines)]
    ci = tmp_path / "ci-output.txt"
    ci.write_text("\n".join(noise_before + stamped + noise_after) + "\n")
    profile = load(str(ci))
    assert profile.kind == "memcheck_log"
    assert totals(profile) == leak_summary(runs / "all.log")
    assert flat_by_leaf(profile, "leaked_bytes") == flat_by_leaf(load(str(runs / "all.log")), "leaked_bytes")
    assert "not_a_frame" not in {f.name for f in profile.functions}


def test_detected_by_content_not_name(runs, tmp_path):
    for name, kind in (("all.xml", "memcheck_xml"), ("all.log", "memcheck_log")):
        renamed = tmp_path / f"{name}.whatever"
        shutil.copy(runs / name, renamed)
        assert load(str(renamed)).kind == kind
        head = (runs / name).read_bytes()[:4096]
        matching = [n for n, fmt in FORMATS.items() if fmt.sniff(head)]
        assert matching == [{"memcheck_xml": "valgrind_memcheck_xml", "memcheck_log": "valgrind_memcheck"}[kind]]


def test_other_formats_are_not_taken_for_memcheck():
    heapcheck = b"WARNING: Perftools heap leak checker is active -- Performance may suffer\n" \
                b"Leak of 100 bytes in 1 objects allocated from:\n\t@ 0x401000 main\n"
    gperftools = b"heap profile:   1:   100 [   1:   100] @ heapprofile\n"
    for head in (heapcheck, gperftools, b"<?xml version='1.0'?><svg/>"):
        assert not vm.sniff(head)
        assert not FORMATS["valgrind_memcheck_xml"].sniff(head)


# ---- frame forms and odd logs, hand-written -----------------------------------------------------

@pytest.mark.parametrize("what,want", [
    ("malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)",
     ("malloc", "", 0, "/usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so")),
    ("operator new(unsigned long) (in /usr/lib/vgpreload.so)",
     ("operator new(unsigned long)", "", 0, "/usr/lib/vgpreload.so")),
    ("lose_widget() (memcheck_leaks.cpp:85)", ("lose_widget()", "memcheck_leaks.cpp", 85, "")),
    ("ns::f(int (*)(int)) (src/dir/f.cc:7)", ("ns::f(int (*)(int))", "src/dir/f.cc", 7, "")),
    ("??? (in /lib/x86_64-linux-gnu/libc.so.6)", ("", "", 0, "/lib/x86_64-linux-gnu/libc.so.6")),
    ("(below main) (libc-start.c:308)", ("(below main)", "libc-start.c", 308, "")),
    ("(below main)", ("(below main)", "", 0, "")),
    ("???", ("", "", 0, "")),
])
def test_text_frame_forms(what, want):
    f = vm.parse_frame("4a2f", what)
    assert (f.fn, f.file, f.line, f.obj) == want and f.ip == 0x4A2F


LOG = """\
==42== Memcheck, a memory error detector
==42== Command: ./prog
==42==
==42== HEAP SUMMARY:
==42==     in use at exit: 1,064 bytes in 3 blocks
==42==
==42== 1,000 bytes in 1 blocks are definitely lost in loss record 2 of 3
==42==    at 0x4848899: malloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==42==    by 0x401100: recurse (r.c:5)
==42==    by 0x401100: recurse (r.c:5)
==42==    by 0x401200: ??? (in /opt/lib/libplug.so)
==42==    by 0x0: ???
==42==
==42== 32 bytes in 1 blocks are definitely lost in loss record 3 of 3
==42==
==42== LEAK SUMMARY:
==42==    definitely lost: 1,032 bytes in 2 blocks
==42==    indirectly lost: 0 bytes in 0 blocks
==42==      possibly lost: 0 bytes in 0 blocks
==42==    still reachable: 32 bytes in 1 blocks
==42==         suppressed: 0 bytes in 0 blocks
"""


def test_recursion_unnamed_frames_and_unlisted_kinds():
    """Recursion through one call site repeats a frame at one address: two frames, not inline
    ones. Unnamed frames are named by their object and address (valgrind states no load
    address, so no offset). A record without frames is an unknown stack; what the summary
    counts but no record lists (still reachable here) is one pseudo frame, with a warning."""
    profile = load_bytes(LOG.encode(), "odd.log")
    big = next(s for s in profile.samples if s.values[2] == 1000)
    names = [[ln.function.name for ln in loc.lines] for loc in big.locations]
    assert names == [["malloc"], ["recurse"], ["recurse"], ["libplug.so@0x401200"], ["0x0"]]
    assert big.locations[1] is big.locations[2]
    assert totals(profile) == {"definite": (1032, 2), "indirect": (0, 0), "possible": (0, 0),
                               "reachable": (32, 1)}
    assert flat_by_leaf(profile, "reachable_bytes") == {vm.NOT_LISTED: 32}
    assert flat_by_leaf(profile, "definite_bytes")["[unknown stack]"] == 32
    assert any("32 bytes in 1 blocks reachable" in w for w in profile.warnings)
    assert profile.header == "Command: ./prog"


def test_later_leak_search_replaces_earlier():
    """A client's VALGRIND_DO_LEAK_CHECK, then the check at exit: the last search is the answer."""
    first = LOG.replace("1,000 bytes", "5,000 bytes").replace("1,032 bytes", "5,032 bytes")
    profile = load_bytes((first + LOG).encode(), "twice.log")
    assert totals(profile)["definite"] == (1032, 2)
    assert any("2 leak searches" in w for w in profile.warnings)


# ---- bad and hostile input ----------------------------------------------------------------------

def test_truncated_xml_keeps_complete_records(runs, tmp_path):
    data = (runs / "all.xml").read_bytes()
    cut_at = data.index(b"</error>", data.index(b"loss record 4 of 10")) + len(b"</error>") + 40
    cut = tmp_path / "killed.xml"
    cut.write_bytes(data[:cut_at])
    profile = load(str(cut))
    assert len(profile.samples) == 4
    assert any("ends early" in w and "4 complete loss records" in w for w in profile.warnings)
    r = run_heapviz("top", str(cut))
    assert r.rc == 0 and "lose_list" in r.out and "lose_block" not in r.out
    assert "heapviz: warning:" in r.err and "ends early" in r.err


def test_malformed_xml_is_an_error_with_its_line(runs, tmp_path):
    lines = (runs / "all.xml").read_text().splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines) if "<fn>lose_block()</fn>" in line)
    lines[n] = lines[n].replace("</fn>", "</fx>")
    bad = tmp_path / "bad.xml"
    bad.write_text("".join(lines))
    r = run_heapviz("top", str(bad))
    assert r.rc == 1 and r.out == ""
    (line,) = r.err.splitlines()
    assert re.fullmatch(rf"heapviz: error: {re.escape(str(bad))}:{n + 1}: malformed XML: mismatched tag "
                        r"\(column \d+\)", line), line


LAUGHS = "".join(f'<!ENTITY l{i} "' + f"&l{i - 1};" * 10 + '">\n' for i in range(1, 10))
HOSTILE = [
    ("billion laughs", f'<?xml version="1.0"?>\n<!DOCTYPE valgrindoutput [\n<!ENTITY l0 "lol">\n{LAUGHS}]>\n'
                       "<valgrindoutput><protocolversion>4</protocolversion><x>&l9;</x></valgrindoutput>\n"),
    ("external entity", '<?xml version="1.0"?>\n<!DOCTYPE valgrindoutput [\n'
                        '<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
                        "<valgrindoutput><x>&xxe;</x></valgrindoutput>\n"),
    ("external DTD", '<?xml version="1.0"?>\n<!DOCTYPE valgrindoutput SYSTEM "http://example.invalid/v.dtd">\n'
                     "<valgrindoutput></valgrindoutput>\n"),
]


@pytest.mark.parametrize("content", [c for _, c in HOSTILE], ids=[i for i, _ in HOSTILE])
def test_entities_refused_without_expanding(tmp_path, content):
    path = tmp_path / "hostile.xml"
    path.write_text(content)
    start = time.monotonic()
    with pytest.raises(InputError) as e:
        load(str(path))
    assert time.monotonic() - start < 1.0
    assert e.value.line == 2 and "refused" in e.value.what
    r = run_heapviz("top", str(path))
    assert r.rc == 1 and r.out == "" and len(r.err.splitlines()) == 1
    assert r.err.startswith(f"heapviz: error: {path}:2: refused:")


def test_undeclared_entity_is_malformed():
    with pytest.raises(InputError, match="undefined entity"):
        load_bytes(b'<?xml version="1.0"?>\n<valgrindoutput><x>&foo;</x></valgrindoutput>\n', "u.xml")


@pytest.mark.parametrize("content,what", [
    ("==1== 10 (20 direct, 30 indirect) bytes in 1 blocks are definitely lost in loss record 1 of 1\n",
     "indirect bytes"),
    ("==1== 10 bytes in 0 blocks are definitely lost in loss record 1 of 1\n", "0 blocks"),
    ("==1== LEAK SUMMARY:\n==1==    definitely lost: 99999999999999999999 bytes in 1 blocks\n", "too large"),
    ("==1== Memcheck, a memory error detector\n==1== Command: ./x\n", "no memcheck leak report"),
])
def test_bad_text_logs(content, what):
    with pytest.raises(InputError, match=what):
        load_bytes(content.encode(), "bad.log")


def test_other_tools_xml_is_refused():
    xml = b'<?xml version="1.0"?>\n<valgrindoutput>\n<protocolversion>4</protocolversion>\n' \
          b"<protocoltool>helgrind</protocoltool>\n</valgrindoutput>\n"
    with pytest.raises(InputError, match="helgrind"):
        load_bytes(xml, "hg.xml")


XML_SEED = """<?xml version="1.0"?>
<valgrindoutput>
<protocolversion>4</protocolversion>
<protocoltool>memcheck</protocoltool>
<error>
  <unique>0x0</unique><tid>1</tid><kind>Leak_DefinitelyLost</kind>
  <xwhat><text>480 (48 direct, 432 indirect) bytes in 1 blocks are definitely lost in loss record 1 of 1</text>
    <leakedbytes>480</leakedbytes><leakedblocks>1</leakedblocks></xwhat>
  <stack>
    <frame><ip>0x48417B4</ip><obj>/usr/libexec/valgrind/vgpreload.so</obj><fn>malloc</fn></frame>
    <frame><ip>0x1092A6</ip><obj>/tmp/p</obj><fn>f()</fn><dir>/src</dir><file>p.c</file><line>7</line></frame>
    <frame><ip>0x1092B0</ip><obj>/tmp/p</obj></frame>
  </stack>
</error>
</valgrindoutput>
"""
FUZZ = settings(max_examples=int(os.environ.get("HEAPVIZ_FUZZ_EXAMPLES", "200")), deadline=None,
                suppress_health_check=list(HealthCheck), derandomize=True)


@FUZZ
@given(st.sampled_from([XML_SEED.encode(), LOG.encode()]), st.data())
def test_mutated_inputs_parse_or_fail_cleanly(seed, data):
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(buf) - 1)) if buf else 0
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if op == "flip" and buf:
            buf[i] = data.draw(st.integers(0, 255))
        elif op == "insert":
            buf[i:i] = data.draw(st.sampled_from([b"<", b"&", b",", b"9999999999999999999", b" (", b")",
                                                  b"<!DOCTYPE x>", b"\xff", b"==1== "]))
        elif op == "delete":
            del buf[i : i + data.draw(st.integers(1, 30))]
        else:
            del buf[i:]
    try:
        profile = load_bytes(bytes(buf), "fuzz.txt", ReadLimits(max_line_bytes=1 << 16, max_input_bytes=1 << 20))
    except InputError as e:
        assert e.path == "fuzz.txt" and e.what
        return
    profile.validate()
    drop_allocator_frames(profile).profile.validate()
    assert all(v >= 0 for s in profile.samples for v in s.values)

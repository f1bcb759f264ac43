"""Go CPU profiles (issue 22, profile kinds): examples/gocpu built with Debian's Go and run at test
time; heapviz shows its cpu/nanoseconds values as pprof does (the same numbers as `go tool pprof`,
times in s/ms, runtime leaves such as runtime.memmove and runtime.asyncPreempt kept) and says
nothing about heaps in any view.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import go_build, run_heapviz

FUNCTIONS = ("main.hotLoop", "main.warmLoop", "main.coldLoop")
# Words a CPU profile's views must not use. `\bheap\b` leaves "heapviz" and "mheap" alone.
HEAP_WORDS = re.compile(r"heap profile|\bheap\b|leak|inuse|in-use|in use|allocat|alloc_space|alloc_objects|bytes",
                        re.IGNORECASE)
# pprof's time labels (google/pprof internal/measurement): 1.44s, 780ms, 10us, 0.
TIME = r"\d+(?:\.\d+)?(?:ns|us|µs|ms|s|mins|hrs|days)"
TIME_TOKEN = re.compile(rf"(?<![\w.]){TIME}(?![\w.])")
NS_PER = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "mins": 60 * 10**9, "hrs": 3600 * 10**9,
          "days": 86400 * 10**9}
# A raw nanosecond count (10 ms is 10000000): 7 or more digits standing alone.
RAW_NS = re.compile(r"(?<![\w.])\d{7,}(?![\w.])")


@pytest.fixture(scope="module")
def gocpu(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("gocpu")
    binary = go_build("gocpu", out)
    profile = out / "cpu.pb.gz"
    subprocess.run([str(binary), str(profile)], check=True, timeout=120, cwd="/", capture_output=True)
    return {"binary": binary, "profile": profile, "dir": out}


def go_pprof_top(profile: Path, *args: str) -> str:
    proc = subprocess.run(["go", "tool", "pprof", "-top", "-nodefraction=0", "-nodecount=0", *args, str(profile)],
                          capture_output=True, text=True, timeout=300, check=True)
    return proc.stdout


def table_rows(text: str) -> dict[str, tuple[str, str]]:
    """pprof's top table (flat flat% sum% cum cum% name) as name -> (flat, cum) strings."""
    assert "cum%\n" in text, text
    table = {}
    for row in text.split("cum%\n", 1)[1].splitlines():
        parts = row.split(None, 5)
        if len(parts) == 6:
            table[parts[5]] = (parts[0], parts[3])
    return table


def ns(value: str) -> int:
    """`1440000000ns`, `0` (-unit=ns) or `1.44s`, `780ms` as nanoseconds."""
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)([a-zµ]*)", value)
    assert m and (m.group(2) in NS_PER or (m.group(2) == "" and float(m.group(1)) == 0)), value
    return round(float(m.group(1)) * NS_PER.get(m.group(2), 1))


@pytest.fixture(scope="module")
def go_ns(gocpu) -> tuple[int, dict[str, tuple[int, int]]]:
    """`go tool pprof -top -unit=ns`: the total and name -> (flat, cum) in nanoseconds."""
    text = go_pprof_top(gocpu["profile"], "-unit=ns")
    m = re.search(r"of (\d+)ns total", text)
    assert m, text
    return int(m.group(1)), {name: (ns(f), ns(c)) for name, (f, c) in table_rows(text).items()}


@pytest.fixture(scope="module")
def go_text(gocpu) -> tuple[str, dict[str, tuple[str, str]]]:
    """`go tool pprof -top` with pprof's own units: the total and name -> (flat, cum) as printed."""
    text = go_pprof_top(gocpu["profile"])
    m = re.search(r"of (\S+) total", text)
    assert m, text
    return m.group(1), table_rows(text)


def top_json(path: Path, *args: str) -> dict:
    r = run_heapviz("top", "--format", "json", str(path), *args)
    assert r.rc == 0, r.err
    assert "warning" not in r.err, r.err
    return json.loads(r.out)


def rows(entries: list[dict]) -> dict[str, tuple[int, int]]:
    return {r["name"]: (r["flat"], r["cum"]) for r in entries}


class _VisibleText(HTMLParser):
    """What a reader sees: text outside <script>/<style>, SVG text and tooltips included; one line
    per block or table row, table cells separated by spaces."""

    BLOCKS = frozenset({"p", "div", "tr", "li", "br", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section",
                        "header", "footer", "summary", "details", "text", "title", "caption", "pre", "nav", "main",
                        "dt", "dd"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(markup: str) -> str:
    parser = _VisibleText()
    parser.feed(markup)
    parser.close()
    return "\n".join(" ".join(line.split()) for line in "".join(parser.parts).splitlines() if line.strip())


@pytest.fixture(scope="module")
def views(gocpu) -> dict[str, tuple[str, str | None]]:
    """Every view of the profile: view -> (stderr when its command failed, else "", the text a
    reader sees). Graph and flame SVG, peek, HTML and PDF report, and the JSON report as written."""
    assert shutil.which("pdftotext"), "pdftotext (Debian package poppler-utils) is required"
    out, profile = gocpu["dir"], str(gocpu["profile"])
    runs = {
        "graph.svg": ("graph", profile, "-o", str(out / "graph.svg")),
        "flame.svg": ("flame", profile, "-o", str(out / "flame.svg")),
        "peek": ("peek", profile, "main.hotLoop"),
        "report": ("report", profile, "-o", str(out / "report.html"), "-o", str(out / "report.pdf"),
                   "-o", str(out / "report.json")),
    }
    results = {name: run_heapviz(*args) for name, args in runs.items()}

    def failed(command: str) -> str:
        r = results[command]
        return "" if r.rc == 0 else f"exit {r.rc}: {r.err}"

    def svg_or_html(name: str) -> tuple[str, str | None]:
        error = failed(name if name.endswith(".svg") else "report")
        return error, None if error else visible_text((out / name).read_text(encoding="utf-8"))

    views: dict[str, tuple[str, str | None]] = {name: svg_or_html(name)
                                                for name in ("graph.svg", "flame.svg", "report.html")}
    views["peek"] = (failed("peek"), results["peek"].out)
    error = failed("report")
    views["report.pdf"] = (error, None if error else subprocess.run(
        ["pdftotext", "-layout", str(out / "report.pdf"), "-"], capture_output=True, text=True, check=True).stdout)
    views["report.json"] = (error, None if error else (out / "report.json").read_text(encoding="utf-8"))
    return views


def view_text(views: dict[str, tuple[str, str | None]], view: str) -> str:
    error, text = views[view]
    assert not error and text is not None, (view, error)
    return text


def test_program_shares(go_ns):
    """The example does what its header says: hot > warm > cold at about 60/30/10% of the time."""
    total, table = go_ns
    assert total >= 500_000_000, total  # at least 50 samples at 100 Hz
    cum = {fn: table[fn][1] / total for fn in FUNCTIONS}
    assert 0.45 < cum["main.hotLoop"] < 0.75 and 0.18 < cum["main.warmLoop"] < 0.42, cum
    assert 0.04 < cum["main.coldLoop"] < 0.2, cum
    assert table["main.run"][1] == total
    # coldLoop's time is in its copy: a runtime leaf in every run
    assert table["runtime.memmove"][0] >= table["main.coldLoop"][1] / 2, table


def test_top_json_defaults_to_cpu_in_nanoseconds(gocpu, go_ns):
    doc = top_json(gocpu["profile"])
    assert doc["sample_index"] == "cpu"
    assert doc["unit"] == "nanoseconds"
    assert doc["total"] == go_ns[0]
    assert not doc["estimated"]


def test_top_json_equals_go_pprof(gocpu, go_ns):
    """Every function, flat and cum, as `go tool pprof -top -unit=ns`: no frame is pruned as a heap
    allocator frame, and callers' cum includes what their callees spent in runtime frames."""
    got = rows(top_json(gocpu["profile"])["rows"])
    _, table = go_ns
    assert {n: got.get(n) for n in table} == table
    assert set(got) == set(table)


def test_runtime_leaves_kept(gocpu, go_ns):
    """pprof keeps runtime frames at the leaf of CPU profiles (heap profiles drop them as
    allocator frames): memmove holds coldLoop's copying in every run; asyncPreempt the samples
    taken while a loop was being preempted by signal, when this run has any (and then heapviz
    has them too, with the same values; when not, neither has)."""
    _, table = go_ns
    got = rows(top_json(gocpu["profile"])["rows"])
    assert "runtime.memmove" in table and got.get("runtime.memmove") == table["runtime.memmove"]
    assert got.get("runtime.asyncPreempt") == table.get("runtime.asyncPreempt")


def test_top_text_like_go_pprof(gocpu, go_text, go_ns):
    r = run_heapviz("top", str(gocpu["profile"]))
    assert r.rc == 0, r.err
    lines = r.out.splitlines()
    assert "Type: cpu" in lines
    header = next(line for line in lines if line.startswith("Showing nodes accounting for"))
    m = re.search(r"of (\S+) total", header)
    assert m and TIME_TOKEN.fullmatch(m.group(1)), header
    assert ns(m.group(1)) == go_ns[0], (header, go_text[0])
    body = "\n".join(line for line in lines if not line.startswith(("File:", "Profile:")))
    assert not RAW_NS.search(body), body
    got, table = table_rows(r.out), go_text[1]
    assert {n: got.get(n) for n in table} == table, r.out


@pytest.mark.parametrize("view", ["graph.svg", "flame.svg", "peek", "report.html", "report.pdf"])
def test_views_say_nothing_about_heaps(views, view):
    """No heap words, and no value left as a raw nanosecond count (the summary's totals included)."""
    text = view_text(views, view)
    assert "main.hotLoop" in text
    lines = text.splitlines()
    problems = {
        "heap words": sorted({m.group(0).lower() for m in HEAP_WORDS.finditer(text)}),
        "lines with heap words": [line for line in lines if HEAP_WORDS.search(line)][:20],
        "lines with raw ns": [line for line in lines if RAW_NS.search(line)][:20],
    }
    assert {what: found for what, found in problems.items() if found} == {}, view


@pytest.mark.parametrize("view", ["peek", "report.html", "report.pdf"])
def test_hottest_function_shown_with_time(views, view, go_ns):
    """main.hotLoop's row carries its flat or cum as a time in pprof's units (780ms, 0.78s)."""
    lines = view_text(views, view).splitlines()
    hot = [line for line in lines if "main.hotLoop" in line and TIME_TOKEN.search(line)]
    assert hot, (view, [line for line in lines if "main.hotLoop" in line])
    flat, cum = go_ns[1]["main.hotLoop"]
    times = [ns(t) for line in hot for t in TIME_TOKEN.findall(line)]
    assert any(abs(t - v) <= v * 0.01 for t in times for v in (flat, cum)), (view, flat, cum, hot)


def test_report_json_is_cpu(views, go_ns):
    doc = json.loads(view_text(views, "report.json"))
    assert doc["sample_type"] == "cpu"
    _, table = go_ns
    top = rows(doc["top"])
    assert "main.hotLoop" in top
    for name, values in top.items():
        assert table.get(name) == values, name
    assert "runtime.memmove" in top

"""profile.proto in and out: `heapviz convert` read back by heapviz, pprof and `go tool pprof`;
pprof's own `-proto` output read by heapviz; format detection and broken protobuf files.

Profiles come from the example programs run at test time; pprof is built from Debian's sources.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, run_heapviz

from heapviz.formats import FORMATS
from heapviz.render.pprof_proto import to_int64

# Dumps with exact (unsampled) values: their integers survive the proto unchanged.
EXACT_DUMPS = ["cxx.0002.heap", "shlib.0002.heap", "threads.0004.heap", "recursion.0001.heap", "heapcheck.heap"]
SAMPLE_INDEXES = ["inuse_space", "inuse_objects", "alloc_space", "alloc_objects"]
_INLINE = re.compile(r" \((partial-)?inline\)$")


def top_json(path: str | Path, *args: str) -> dict:
    r = run_heapviz("top", "--format", "json", str(path), *args)
    assert r.rc == 0, r.err
    return json.loads(r.out)


def rows(doc: dict) -> dict[str, tuple[int, int]]:
    return {r["name"]: (r["flat"], r["cum"]) for r in doc["rows"]}


def ref_top(cmd: list[str], profile: str, sample_index: str) -> tuple[int, dict[str, tuple[int, int]]]:
    """`pprof -top -unit=B -nodefraction=0` without a binary: total and name -> (flat, cum)."""
    proc = subprocess.run([*cmd, "-top", "-unit=B", "-nodefraction=0", "-nodecount=0",
                           f"-sample_index={sample_index}", profile],
                          capture_output=True, text=True, timeout=300, check=True,
                          env=dict(os.environ, PPROF_BINARY_PATH="/nonexistent"))
    m = re.search(r"of (-?\d+)B? total", proc.stdout)
    assert m, proc.stdout + proc.stderr
    table: dict[str, tuple[int, int]] = {}
    for row in proc.stdout.split("cum%\n", 1)[1].splitlines():
        parts = row.split(None, 5)
        if len(parts) < 6:
            continue
        name = _INLINE.sub("", parts[5])
        flat, cum = (int(p.rstrip("B") or 0) for p in (parts[0], parts[3]))
        old = table.get(name, (0, 0))
        table[name] = (old[0] + flat, max(old[1], cum))
    return int(m.group(1)), table


@pytest.fixture(scope="module")
def converted(examples: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("converted")
    files = {}
    for name in EXACT_DUMPS:
        dst = out / f"{name}.pb.gz"
        r = run_heapviz("convert", str(examples / name), "-o", str(dst))
        assert r.rc == 0, r.err
        files[name] = dst
    return files


@pytest.fixture(scope="module")
def go_pprof() -> list[str]:
    go = shutil.which("go")
    assert go, "go (Debian package golang-go) is required"
    return [go, "tool", "pprof"]


def test_converted_is_gzipped_profile_proto(converted):
    data = converted["cxx.0002.heap"].read_bytes()
    assert data[:2] == b"\x1f\x8b"
    raw = gzip.decompress(data)
    assert FORMATS["pprof_proto"].sniff(raw[:4096])
    # deterministic: the same input gives the same bytes
    again = converted["cxx.0002.heap"].with_name("again.pb.gz")
    assert run_heapviz("convert", str(converted["cxx.0002.heap"]), "-o", str(again)).rc == 0
    assert top_json(again)["rows"] == top_json(converted["cxx.0002.heap"])["rows"]


def test_plain_pb_suffix_is_not_gzipped(examples, tmp_path):
    dst = tmp_path / "cxx.pb"
    r = run_heapviz("convert", str(examples / "cxx.0002.heap"), "-o", str(dst))
    assert r.rc == 0, r.err
    assert dst.read_bytes()[:2] != b"\x1f\x8b"
    assert rows(top_json(dst)) == rows(top_json(examples / "cxx.0002.heap"))


@pytest.mark.parametrize("dump", EXACT_DUMPS)
@pytest.mark.parametrize("index", ["inuse_space", "alloc_objects"])
def test_convert_read_by_pprof(examples, converted, pprof, go_pprof, dump, index):
    """pprof and go tool pprof on the converted file: heapviz's totals, flat and cum per function."""
    ours = top_json(examples / dump, "--sample-index", index)
    want = rows(ours)
    for cmd in ([pprof], go_pprof):
        total, table = ref_top(cmd, str(converted[dump]), index)
        assert total == ours["total"], cmd
        assert table == want, cmd


@pytest.mark.parametrize("dump", EXACT_DUMPS)
def test_convert_read_back_by_heapviz(examples, converted, dump):
    for index in SAMPLE_INDEXES:
        a = top_json(examples / dump, "--sample-index", index)
        b = top_json(converted[dump], "--sample-index", index)
        assert (b["total"], b["rows"]) == (a["total"], a["rows"]), index
    for opts in (["--lines"], ["--demangle", "full"], ["--no-inlines"], ["--focus", "main"]):
        a = top_json(examples / dump, *opts)
        b = top_json(converted[dump], *opts)
        assert b["rows"] == a["rows"], opts


def test_converted_needs_no_binary(tmp_path):
    """Profiles of a private build; its directory is moved away before the converted file is read."""
    build = tmp_path / "build"
    targets = [str(build / n) for n in ("cxx.0002.heap", "shlib.0002.heap")]
    subprocess.run(["make", "-s", "-C", str(ROOT / "examples"), f"OUT={build}", *targets], check=True,
                   stdout=subprocess.DEVNULL, timeout=600)
    before = {}
    for name in ("cxx.0002.heap", "shlib.0002.heap"):
        r = run_heapviz("convert", str(build / name), "-o", str(tmp_path / f"{name}.pb.gz"))
        assert r.rc == 0, r.err
        before[name] = {i: top_json(build / name, "--sample-index", i) for i in SAMPLE_INDEXES}
    build.rename(tmp_path / "moved")
    for name, docs in before.items():
        for index, doc in docs.items():
            r = run_heapviz("top", "--format", "json", "--sample-index", index, str(tmp_path / f"{name}.pb.gz"))
            assert r.rc == 0, r.err
            assert "warning" not in r.err, r.err
            got = json.loads(r.out)
            assert (got["total"], got["rows"]) == (doc["total"], doc["rows"])
            assert not any("symbolize" in w for w in got["warnings"])
    # The original dump now has no binary: heapviz warns and falls back to offsets.
    r = run_heapviz("top", str(tmp_path / "moved" / "cxx.0002.heap"))
    assert r.rc == 0 and "cannot symbolize" in r.err


@pytest.mark.parametrize("dump", ["cxx.0002.heap", "threads.0004.heap", "shlib.0002.heap"])
def test_pprof_proto_output_read_by_heapviz(examples, expected, pprof, tmp_path, dump):
    """`pprof -proto` (pprof symbolizes and writes shortened names + mangled system names)."""
    program = next(p for p in expected.values() if isinstance(p, dict) and dump in p.get("dumps", {}))
    out = tmp_path / "pprof.pb.gz"
    subprocess.run([pprof, "-proto", f"-output={out}", str(examples / program["binary"]), str(examples / dump)],
                   check=True, capture_output=True, timeout=300)
    ours = top_json(examples / dump)
    theirs = top_json(out)
    assert theirs["total"] == ours["total"]
    assert alias_free(rows(theirs)) == alias_free(rows(ours))
    full = top_json(out, "--demangle", "full")
    assert alias_free(rows(full)) == alias_free(rows(top_json(examples / dump, "--demangle", "full")))


def alias_free(table: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    # glibc's assembly functions have several symbols at one address (`clone3`, `__GI___clone3`);
    # pprof's symbolization and heapviz's may pick different aliases.
    return {re.sub(r"^(__GI_)?_*", "", name): v for name, v in table.items()}


def test_sampled_dump_converts_to_rounded_integers(examples, tmp_path, pprof):
    dst = tmp_path / "sampled.pb.gz"
    assert run_heapviz("convert", str(examples / "sampled.heap"), "-o", str(dst)).rc == 0
    ours = top_json(examples / "sampled.heap")
    back = top_json(dst)
    assert back["estimated"] and ours["estimated"]
    # each sample is rounded once: totals agree within half a byte per sample
    assert abs(back["total"] - ours["total"]) <= len(ours["rows"]) * 10
    total, _ = ref_top([pprof], str(dst), "inuse_space")
    assert total == back["total"]


def test_to_int64_rounds_half_away_from_zero():
    assert [to_int64(v) for v in (0.5, 1.49, 2.5, -2.5, 7)] == [1, 1, 3, -3, 7]
    assert to_int64(1e30) == (1 << 63) - 1


def _head(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data[:4096]


def test_detection(examples, converted, pprof, tmp_path):
    want = {name: "gperftools_heap" for name in EXACT_DUMPS}
    want["sampled.heap"] = "gperftools_heap"
    for name, fmt in want.items():
        claimed = [n for n, m in FORMATS.items() if m.sniff(_head(examples / name))]
        assert claimed[0] == fmt, (name, claimed)
        assert "pprof_proto" not in claimed
    for path in converted.values():
        assert [n for n, m in FORMATS.items() if m.sniff(_head(path))] == ["pprof_proto"]
    # tiny and textual inputs are never protobuf
    for text in (b"hi\n", b"heap profile: 1: 2 [3: 4] @ heapprofile\n", b"heap_v2/524288\n", b"\n\n--- x\n"):
        assert not FORMATS["pprof_proto"].sniff(text), text


def _corrupt_inputs(converted: dict[str, Path], tmp_path: Path) -> list[Path]:
    raw = gzip.decompress(converted["cxx.0002.heap"].read_bytes())
    cases = {
        "half.pb": raw[: len(raw) // 2],
        "cut-in-field.pb": raw[:-3],
        "cut.pb.gz": converted["cxx.0002.heap"].read_bytes()[:300],
        "garbage-after-key.pb": b"\x0a\xff\xff\xff\xff\x0f" + bytes(range(256)) * 8,
        "bad-string-index.pb": bytes([0x0A, 0x04, 0x08, 0x63, 0x10, 0x01, 0x32, 0x00]),
        "unknown-location.pb": bytes([0x0A, 0x00, 0x12, 0x04, 0x08, 0x07, 0x10, 0x01, 0x32, 0x00]),
    }
    paths = []
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        paths.append(p)
    return paths


def test_broken_protobuf_is_one_error_line(converted, tmp_path):
    for path in _corrupt_inputs(converted, tmp_path):
        r = run_heapviz("top", str(path))
        assert r.rc == 1, (path.name, r.err)
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"heapviz: error: {path}"), (path.name, r.err)
        assert "Traceback" not in r.err and "internal error" not in r.err, r.err


def test_convert_output_errors(examples, tmp_path):
    r = run_heapviz("convert", str(examples / "cxx.0002.heap"), "-o", str(tmp_path / "no" / "such" / "x.pb.gz"))
    assert r.rc == 1 and r.err.startswith("heapviz: error:") and "Traceback" not in r.err
    r = run_heapviz("convert", str(examples / "cxx.0002.heap"))
    assert r.rc == 2


def test_schema_matches_pprofs_profile_proto():
    """Field numbers and kinds of heapviz's schema equal pprof's (Debian's copy of its sources)."""
    from heapviz.formats import profile_pb2

    upstream = Path("/usr/share/gocode/src/github.com/google/pprof/proto/profile.proto").read_text()
    kinds = {"int64": "int64", "uint64": "uint64", "bool": "bool", "string": "bytes"}
    for block in re.finditer(r"^message (\w+) \{(.*?)^\}", upstream, re.MULTILINE | re.DOTALL):
        desc = profile_pb2.DESCRIPTOR.message_types_by_name[block.group(1)]
        for m in re.finditer(r"^\s*(repeated )?(\w+) (\w+) = (\d+);", block.group(2), re.MULTILINE):
            field = desc.fields_by_name[m.group(3)]
            assert field.number == int(m.group(4)), m.group(0)
            repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED
            assert repeated == bool(m.group(1)), m.group(0)
            if m.group(2) in kinds:
                want = getattr(field, f"TYPE_{kinds[m.group(2)].upper()}")
                # string_table is bytes here (producers do not guarantee UTF-8): same wire type
                assert field.type == want or (m.group(3) == "string_table" and field.type == field.TYPE_BYTES)
            else:
                assert field.message_type.name == m.group(2), m.group(0)

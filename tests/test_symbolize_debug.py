"""Stripped binaries and libraries: their unnamed addresses grouped per library as pprof does,
names from MiniDebugInfo (`.gnu_debugdata`), debug files by build id, by .gnu_debuglink (with its
CRC) and from a debuginfod server, and one warning per stripped library.

The program (tests/data/stripped/) is built with gcc, run under tcmalloc's heap profiler, and its
library stripped afterwards the way distributions do it (the code and build id stay the same).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_heapviz
from reftools import pprof_top

SRC = ROOT / "tests" / "data" / "stripped"
CFLAGS = ["-g", "-O1", "-fno-omit-frame-pointer"]
RUN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("HEAP", "TCMALLOC", "LD_PRELOAD", "MALLOC"))}
LIB_TRUTH = {"hidden_table": 1280, "hidden_node": 960}  # hidden_api(10): 10 x 128 B, 10 x 96 B
MAIN_TRUTH = {"main_alloc": 640}


def _build(out: Path, lib_flags: tuple[str, ...] = ()) -> Path:
    """libhidden.so and main built into out, run once: returns the profile out/prof.0001.heap."""
    out.mkdir(parents=True)
    subprocess.run(["gcc", *CFLAGS, *lib_flags, "-fPIC", "-shared", "-Wl,-soname,libhidden.so", "-o",
                    str(out / "libhidden.so"), str(SRC / "libhidden.c")], check=True)
    subprocess.run(["gcc", *CFLAGS, "-fPIE", "-pie", "-o", str(out / "main"), str(SRC / "main.c"), f"-L{out}",
                    "-lhidden", "-Wl,-rpath,$ORIGIN", "-ltcmalloc"], check=True)
    subprocess.run([str(out / "main"), str(out / "prof")], check=True, cwd="/", env=RUN_ENV,
                   capture_output=True, timeout=60)
    return out / "prof.0001.heap"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The unstripped build and its profile."""
    return _build(tmp_path_factory.mktemp("stripped") / "orig").parent


def _variant(built: Path, where: Path) -> Path:
    """A copy of the build in `where` with a profile that names it; returns the profile."""
    where.mkdir()
    for name in ("main", "libhidden.so"):
        shutil.copy2(built / name, where / name)
    prof = where / "prof.0001.heap"
    prof.write_text((built / "prof.0001.heap").read_text().replace(f"{built}/", f"{where}/"))
    return prof


def _strip(path: Path, *extra: str) -> None:
    subprocess.run(["objcopy", "--strip-all", *extra, str(path)], check=True)


def _sections(path: Path) -> str:
    return subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True, check=True).stdout


def _build_id(path: Path) -> str:
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True, check=True).stdout
    return out.split("Build ID:")[1].split()[0]


def top(prof: Path, *args: str, env: dict[str, str] | None = None) -> tuple[dict[str, dict], str, dict]:
    r = run_heapviz("top", "--format", "json", str(prof), *args, env=env, timeout=120)
    assert r.rc == 0, r.err
    doc = json.loads(r.out)
    return {row["name"]: row for row in doc["rows"]}, r.err, doc


def _flat(rows: dict[str, dict], names: dict[str, int]) -> dict[str, int]:
    return {n: rows[n]["flat"] if n in rows else None for n in names}


def test_stripped_library_is_one_node_equal_to_pprof(built, tmp_path, pprof):
    prof = _variant(built, tmp_path / "v")
    _strip(tmp_path / "v" / "libhidden.so")
    assert ".symtab" not in _sections(tmp_path / "v" / "libhidden.so")
    rows, err, doc = top(prof)
    # hidden_api is exported (.dynsym): it keeps its name; the static functions are [libhidden.so]
    assert rows["[libhidden.so]"]["flat"] == sum(LIB_TRUTH.values()) and rows["hidden_api"]["cum"] == 2240
    assert rows["main_alloc"]["flat"] == 640 and not [n for n in rows if "+0x" in n]
    ref = pprof_top(pprof, str(tmp_path / "v" / "main"), str(prof))
    assert doc["total"] == ref.total == 2880
    assert {n: r["flat"] for n, r in rows.items()} == ref.flat
    assert {n: r["cum"] for n, r in rows.items()} == ref.cum
    # one warning, naming the library, what is missing and the three ways to get it
    warnings = [w for w in err.splitlines() if "libhidden.so" in w]
    assert len(warnings) == 1 and err.count("heapviz: warning:") == 1, err
    for words in ("is stripped", "2 of its 4 addresses have no name", "[libhidden.so]", "-dbgsym",
                  "--symbol-path", "DEBUGINFOD_URLS", _build_id(tmp_path / "v" / "libhidden.so")):
        assert words in warnings[0], words
    # finer granularities, and the report's stacks, keep each address as lib+0xOFFSET
    rows, _, _ = top(prof, "--granularity", "addresses")
    assert sum(1 for n in rows if "libhidden.so+0x" in n) >= 2
    rows, _, _ = top(prof, "--granularity", "lines")
    assert sum(r["flat"] for n, r in rows.items() if n.startswith("libhidden.so+0x")) == 2240
    r = run_heapviz("graph", "--format", "dot", str(prof))
    assert r.rc == 0 and 'label="[libhidden.so]\\n' in r.out and "libhidden.so+0x" not in r.out
    # converted to pprof's format, the unnamed addresses stay unnamed: pprof groups them as it does
    # on the original, and heapviz reads the same table back
    pb = tmp_path / "stripped.pb.gz"
    assert run_heapviz("convert", str(prof), "-o", str(pb)).rc == 0
    again = pprof_top(pprof, str(tmp_path / "v" / "main"), str(pb))
    assert again.total == ref.total and again.flat == ref.flat and again.cum == ref.cum
    rows, _, _ = top(pb)
    assert {n: r["flat"] for n, r in rows.items()} == ref.flat


def test_cache_tells_a_stripped_copy_from_its_build(built, tmp_path):
    """The same build id, first unstripped and then stripped: the cache's names for the first are
    not the second's."""
    prof = _variant(built, tmp_path / "v")
    cache = ["--cache-dir", str(tmp_path / "cache")]
    on = {"HEAPVIZ_NO_CACHE": ""}
    rows, _, _ = top(prof, *cache, env=on)
    assert _flat(rows, LIB_TRUTH) == LIB_TRUTH
    _strip(tmp_path / "v" / "libhidden.so")
    rows, err, _ = top(prof, *cache, env=on)
    assert rows["[libhidden.so]"]["flat"] == 2240 and "is stripped" in err


def _nm(path: Path, *args: str) -> list[tuple[str, str]]:
    out = subprocess.run(["nm", "--format=posix", "--defined-only", *args, str(path)], capture_output=True,
                         text=True, check=True).stdout
    return [(ln.split()[0], ln.split()[1]) for ln in out.splitlines() if len(ln.split()) >= 2]


def add_minidebuginfo(full: Path, stripped: Path, work: Path) -> None:
    """Fedora's MiniDebugInfo (find-debuginfo's add_minidebug): the functions that are not in
    .dynsym, in the .symtab of an xz-compressed debug file, added as .gnu_debugdata."""
    work.mkdir()
    dynamic = {name for name, _ in _nm(full, "-D")}
    keep = sorted({name for name, kind in _nm(full) if kind in "Tt"} - dynamic)
    (work / "keep_symbols").write_text("".join(f"{n}\n" for n in keep))
    subprocess.run(["objcopy", "--only-keep-debug", str(full), str(work / "mini")], check=True)
    subprocess.run(["objcopy", "-S", "--remove-section", ".gdb_index", "--remove-section", ".comment",
                    f"--keep-symbols={work / 'keep_symbols'}", str(work / "mini"), str(work / "mini.stripped")],
                   check=True)
    subprocess.run(["xz", "-k", str(work / "mini.stripped")], check=True)
    subprocess.run(["objcopy", "--add-section", f".gnu_debugdata={work / 'mini.stripped.xz'}", str(stripped)],
                   check=True)


def test_minidebuginfo_names_the_static_functions(built, tmp_path):
    prof = _variant(built, tmp_path / "v")
    for name in ("libhidden.so", "main"):
        _strip(tmp_path / "v" / name)
        add_minidebuginfo(built / name, tmp_path / "v" / name, tmp_path / f"mini-{name}")
        sections = _sections(tmp_path / "v" / name)
        assert ".gnu_debugdata" in sections and ".symtab" not in sections
    rows, err, doc = top(prof)
    assert _flat(rows, LIB_TRUTH | MAIN_TRUTH) == LIB_TRUTH | MAIN_TRUTH
    assert rows["hidden_api"]["cum"] == 2240 and doc["total"] == 2880  # exported: from .dynsym
    assert "warning" not in err
    # the report lists how each binary was symbolized
    r = run_heapviz("report", "-o", str(tmp_path / "r.html"), str(prof))
    assert r.rc == 0 and "symbolized (MiniDebugInfo symbols)" in (tmp_path / "r.html").read_text()


def test_corrupt_minidebuginfo_warns_and_keeps_the_dynamic_names(built, tmp_path):
    prof = _variant(built, tmp_path / "v")
    lib = tmp_path / "v" / "libhidden.so"
    _strip(lib)
    (tmp_path / "junk.xz").write_bytes(b"\xfd7zXZ\x00not really xz")
    subprocess.run(["objcopy", "--add-section", f".gnu_debugdata={tmp_path / 'junk.xz'}", str(lib)], check=True)
    rows, err, _ = top(prof)
    assert "gnu_debugdata" in err and "not xz data" in err
    assert rows["[libhidden.so]"]["flat"] == 2240 and rows["hidden_api"]["cum"] == 2240


def _debug_file(full: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["objcopy", "--only-keep-debug", str(full), str(dst)], check=True)
    return dst


def test_debug_file_by_build_id_under_symbol_path(built, tmp_path):
    prof = _variant(built, tmp_path / "v")
    _strip(tmp_path / "v" / "libhidden.so")
    bid = _build_id(built / "libhidden.so")
    _debug_file(built / "libhidden.so", tmp_path / "store" / ".build-id" / bid[:2] / f"{bid[2:]}.debug")
    rows, err, _ = top(prof, "--symbol-path", str(tmp_path / "store"))
    assert _flat(rows, LIB_TRUTH) == LIB_TRUTH and "warning" not in err
    rows, _, _ = top(prof, "--symbol-path", str(tmp_path / "store"), "--granularity", "lines")
    assert any(n.startswith("hidden_table ") and "libhidden.c:" in n for n in rows)


def test_debuglink_crc_decides_without_build_ids(tmp_path):
    """Without build ids only .gnu_debuglink's CRC tells the right debug file from another build's."""
    prof = _build(tmp_path / "b", ("-Wl,--build-id=none",))
    lib = tmp_path / "b" / "libhidden.so"
    full = tmp_path / "libhidden.full"
    shutil.copy2(lib, full)
    debug = _debug_file(full, tmp_path / "b" / "libhidden.so.debug")
    _strip(lib, f"--add-gnu-debuglink={debug}")
    rows, err, _ = top(prof)
    assert _flat(rows, LIB_TRUTH) == LIB_TRUTH and "warning" not in err
    # another build's debug file under the same name: ignored, with a warning
    other = tmp_path / "other.so"
    subprocess.run(["gcc", "-g", "-O0", "-fPIC", "-shared", "-Wl,--build-id=none", "-o", str(other),
                    str(SRC / "libhidden.c")], check=True)
    _debug_file(other, debug)
    rows, err, _ = top(prof)
    assert "hidden_table" not in rows and rows["[libhidden.so]"]["flat"] == 2240
    assert "ignored a debug file of libhidden.so" in err and "CRC" in err and "is stripped" in err


def _fake_debuginfod_find(bindir: Path, body: str) -> Path:
    bindir.mkdir(exist_ok=True)
    exe = bindir / "debuginfod-find"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)
    return bindir


def test_debuginfod_find_answers_slow_failing_and_good(built, tmp_path):
    """A fake debuginfod-find: one that hangs is killed and asked no more, one that fails is a
    warning, one that answers names the functions."""
    prof = _variant(built, tmp_path / "v")
    _strip(tmp_path / "v" / "libhidden.so")
    path = os.environ["PATH"]
    bindir = _fake_debuginfod_find(tmp_path / "hang", "exec sleep 60")
    env = {"PATH": f"{bindir}:{path}", "DEBUGINFOD_URLS": "http://127.0.0.1:9"}
    t0 = time.monotonic()
    rows, err, _ = top(prof, "--symbolizer-timeout", "2", env=env)
    assert time.monotonic() - t0 < 30
    assert "debuginfod-find did not answer within 2 s" in err and rows["[libhidden.so]"]["flat"] == 2240
    failing = "echo 'Server query failed: No such file or directory' >&2; exit 1"
    bindir = _fake_debuginfod_find(tmp_path / "fail", failing)
    rows, err, _ = top(prof, env={"PATH": f"{bindir}:{path}", "DEBUGINFOD_URLS": "http://127.0.0.1:9"})
    warning = next(w for w in err.splitlines() if "libhidden.so is stripped" in w)
    assert "debuginfod has no debug file" in warning and "No such file" in warning
    debug = _debug_file(built / "libhidden.so", tmp_path / "cache" / "debuginfo")
    bid = _build_id(built / "libhidden.so")
    bindir = _fake_debuginfod_find(tmp_path / "good", f'[ "$1 $2" = "debuginfo {bid}" ] && echo {debug}')
    rows, err, _ = top(prof, env={"PATH": f"{bindir}:{path}", "DEBUGINFOD_URLS": "http://127.0.0.1:9"})
    assert _flat(rows, LIB_TRUTH) == LIB_TRUTH and "warning" not in err
    # without DEBUGINFOD_URLS it is not asked
    rows, err, _ = top(prof, env={"PATH": f"{bindir}:{path}", "DEBUGINFOD_URLS": ""})
    assert "hidden_table" not in rows and "DEBUGINFOD_URLS" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_debuginfod_server_on_loopback(built, tmp_path):
    """Debian's debuginfod serving the debug files of a directory; heapviz fetches by build id."""
    server = shutil.which("debuginfod")
    assert server and shutil.which("debuginfod-find"), "debuginfod (Debian package debuginfod) is required"
    prof = _variant(built, tmp_path / "v")
    _strip(tmp_path / "v" / "libhidden.so")
    served = tmp_path / "served"
    _debug_file(built / "libhidden.so", served / "libhidden.so.debug")
    bid = _build_id(built / "libhidden.so")
    port = _free_port()
    proc = subprocess.Popen([server, "-p", str(port), "-d", str(tmp_path / "db.sqlite"), "-F", str(served)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    env = {"DEBUGINFOD_URLS": f"http://127.0.0.1:{port}", "DEBUGINFOD_CACHE_PATH": str(tmp_path / "client")}
    try:
        # wait for the server's first scan of the directory (each probe with a cache of its own:
        # the client remembers a miss)
        deadline = time.monotonic() + 60
        for n in range(10**6):
            probe = subprocess.run(["debuginfod-find", "debuginfo", bid], capture_output=True, text=True,
                                   env={**os.environ, **env, "DEBUGINFOD_CACHE_PATH": str(tmp_path / f"probe{n}")},
                                   timeout=30, check=False)
            if probe.returncode == 0:
                break
            assert time.monotonic() < deadline, probe.stderr
            time.sleep(0.5)
        rows, err, _ = top(prof, env=env)
        assert _flat(rows, LIB_TRUTH) == LIB_TRUTH and "warning" not in err
        # the fetched file is in the client's cache, under the build id
        assert (tmp_path / "client" / bid / "debuginfo").is_file()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

"""Faults around symbolization and the process: truncated binaries, hung or dying symbolizers,
terminal injection, signals, and resource limits."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import run_heapviz


def _relocated(examples: Path, tmp_path: Path, binary: Path) -> Path:
    text = (examples / "threads.0002.heap").read_text()
    prof = tmp_path / "threads.0002.heap"
    prof.write_text(text.replace(str(examples / "threads_series"), str(binary)))
    return prof


def test_truncated_binary_warns_and_writes(examples, tmp_path):
    cut = tmp_path / "threads_series"
    cut.write_bytes((examples / "threads_series").read_bytes()[:3000])
    prof = _relocated(examples, tmp_path, cut)
    out = tmp_path / "r.html"
    r = run_heapviz("report", str(prof), "-o", str(out))
    assert r.rc == 0 and out.exists()
    assert "heapviz: warning:" in r.err and "threads_series" in r.err
    assert "Traceback" not in r.err


def _fake_tool(tmp_path: Path, name: str, script: str) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    tool = bindir / name
    tool.write_text("#!/bin/sh\n" + script + "\n")
    tool.chmod(0o755)
    return bindir


def test_hung_symbolizer_is_killed_and_addr2line_takes_over(examples, tmp_path, expected):
    bindir = _fake_tool(tmp_path, "llvm-symbolizer", "sleep 600")
    env = {"PATH": f"{bindir}:{os.environ['PATH']}"}
    start = time.monotonic()
    r = run_heapviz("top", "--format", "json", str(examples / "threads.0002.heap"), "--symbolizer-timeout", "2",
                    env=env)
    assert time.monotonic() - start < 60
    assert r.rc == 0, r.err
    assert "did not answer within 2 s" in r.err and "used addr2line instead" in r.err
    rows = {row["name"]: row["flat"] for row in json.loads(r.out)["rows"]}
    for fn, n in expected["threads"]["dumps"]["threads.0002.heap"].items():
        assert rows[fn] == n


def test_dying_symbolizers_leave_raw_frames(examples, tmp_path):
    bindir = _fake_tool(tmp_path, "llvm-symbolizer", "echo boom >&2; exit 139")
    _fake_tool(tmp_path, "addr2line", "kill -9 $$")
    env = {"PATH": f"{bindir}:{os.environ['PATH']}"}
    out = tmp_path / "top.json"
    r = run_heapviz("top", "--format", "json", "-o", str(out), str(examples / "threads.0002.heap"), env=env)
    assert r.rc == 0, r.err
    assert "symbolizing" in r.err and "failed" in r.err
    doc = json.loads(out.read_text())
    assert doc["total"] == 1109114 and any(row["name"] == "[threads_series]" for row in doc["rows"])


def test_control_characters_are_not_interpreted_in_text(tmp_path):
    evil = "/opt/\x1b]0;pwned\x07\x1b[2J/<script>alert(1)</script>/app"
    text = ("heap profile: 1: 8 [ 1: 8] @ heapprofile\n 1: 8 [ 1: 8] @ 0x00400010\n\nMAPPED_LIBRARIES:\n"
            f"00400000-00401000 r-xp 00000000 08:01 123 {evil}\n")
    prof = tmp_path / "evil.heap"
    prof.write_text(text)
    for fmt in ("text", "csv"):
        r = run_heapviz("top", str(prof), "--format", fmt)
        assert r.rc == 0
        assert "\x1b" not in r.out and "\x07" not in r.out and "\x1b" not in r.err
        assert "\\x1b" in r.err  # the warning names the path, escaped
    r = run_heapviz("top", str(prof), "--format", "json")
    assert "\x1b" not in r.out and json.loads(r.out)["rows"][0]["name"] == "[app]"


def test_interrupted_runs_leave_no_files(examples, tmp_path):
    """SIGTERM and SIGINT at several moments: never a partial report, never a temporary file."""
    big = tmp_path / "big.heap"
    lines = (examples / "threads.0004.heap").read_text().splitlines()
    samples = [ln for ln in lines[1:] if "@" in ln]
    maps = "\n".join(lines[lines.index("MAPPED_LIBRARIES:"):])
    with big.open("w") as f:
        f.write(lines[0] + "\n")
        for i in range(60_000):
            f.write(samples[i % len(samples)].replace("@", f"@ 0x{0x1000 + i:x}", 1) + "\n")
        f.write("\n" + maps + "\n")
    outdir = tmp_path / "out"
    outdir.mkdir()
    for sig, delay in ((signal.SIGTERM, 0.5), (signal.SIGINT, 1.0), (signal.SIGTERM, 2.0), (signal.SIGINT, 3.0)):
        proc = subprocess.Popen([sys.executable, "-m", "heapviz", "report", str(big), "-o", str(outdir / "r.html"),
                                 "-o", str(outdir / "r.pdf")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        files = sorted(p.name for p in outdir.iterdir())
        if proc.returncode == 0:  # finished before the signal: both complete
            assert files == ["r.html", "r.pdf"]
            for p in outdir.iterdir():
                p.unlink()
            continue
        # 130/143: handled; -2/-15: the signal came while Python itself was still starting
        assert proc.returncode in (130, 143, -2, -15), err
        assert files == [], files
        assert b"Traceback" not in err


def test_hundred_thousand_stacks_and_deep_stacks_within_memory(tmp_path):
    """100k distinct stacks, and stacks of 10,000 frames: complete, well within 2 GiB."""
    wide = tmp_path / "wide.heap"
    with wide.open("w") as f:
        f.write("heap profile: 100000: 6400000 [100000: 6400000] @ heapprofile\n")
        for i in range(100_000):
            frames = " ".join(f"0x{0x400000 + ((i * 7919 + k * 104729) % 60000) * 16:x}" for k in range(12))
            f.write(f"1: 64 [1: 64] @ {frames}\n")
        f.write("\nMAPPED_LIBRARIES:\n00400000-00500000 r-xp 00000000 08:01 1 /nonexistent/app\n")
    deep = tmp_path / "deep.heap"
    with deep.open("w") as f:
        f.write("heap profile: 3: 192 [3: 192] @ heapprofile\n")
        for j in range(3):
            frames = " ".join(f"0x{0x400000 + (k % 5000) * 16 + j:x}" for k in range(10_000))
            f.write(f"1: 64 [1: 64] @ {frames}\n")
        f.write("\nMAPPED_LIBRARIES:\n00400000-00500000 r-xp 00000000 08:01 1 /nonexistent/app\n")
    for prof in (wide, deep):
        out = tmp_path / f"{prof.stem}.html"
        code = (
            "import resource, sys\nfrom heapviz.cli import main\n"
            f"rc = main(['report', {str(prof)!r}, '-o', {str(out)!r}, '--symbolizer', 'none'])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(rc)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert int(proc.stderr.strip().splitlines()[-1]) < 2 * 1024 * 1024  # KiB
        assert out.exists()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0
    assert shutil.which("dot")


def test_symbol_cache_lets_a_second_run_skip_the_symbolizer(examples, tmp_path, expected):
    cache = tmp_path / "cache"
    on = {"HEAPVIZ_NO_CACHE": ""}
    prof = str(examples / "threads.0002.heap")
    r = run_heapviz("top", "--format", "json", prof, "--cache-dir", str(cache), env=on)
    assert r.rc == 0 and list(cache.glob("*.json"))
    first = json.loads(r.out)
    # the symbolizers now die: only the cache can name the frames
    bindir = _fake_tool(tmp_path, "llvm-symbolizer", "exit 1")
    _fake_tool(tmp_path, "addr2line", "exit 1")
    env = {**on, "PATH": f"{bindir}:{os.environ['PATH']}"}
    r = run_heapviz("top", "--format", "json", prof, "--cache-dir", str(cache), env=env)
    assert r.rc == 0 and "warning" not in r.err
    assert json.loads(r.out)["rows"] == first["rows"]
    rows = {row["name"]: row["flat"] for row in first["rows"]}
    assert all(rows[fn] == n for fn, n in expected["threads"]["dumps"]["threads.0002.heap"].items())
    r = run_heapviz("top", "--format", "json", prof, "--cache-dir", str(cache), "--no-cache", env=env)
    assert "failed" in r.err and any(row["name"] == "[threads_series]" for row in json.loads(r.out)["rows"])

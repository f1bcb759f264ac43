"""`make bench`: heapviz against the reference tools on large, real heap-checker profiles.

Builds the generated leaking program (bench/gen_program.py), runs it under tcmalloc's heap
checker at several sizes, scales the largest dump up to ~1M sample lines for parser
throughput, and runs it once more under the heap profiler for a series of dumps such as a
nightly job gets. Then times `heapviz top|graph|report` (median of several runs, per-phase
times from `--timings`) and, once at the largest size, `go tool pprof -svg`, perl
`google-pprof --svg` and pprof built from Debian's sources. Every run is one child process
whose wall time and peak RSS come from os.wait4. A benchmark, not a test: it asserts no speed;
it prints a markdown table and writes results.md and results.json to --out.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import explorer_bench
import fleet_bench
import gen_program

ROOT = Path(__file__).resolve().parent.parent
CFLAGS = ["-no-pie", "-O1", "-g", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls"]
PHASES = ("parse", "symbolize", "prune", "graph", "render", "write")
TIMINGS_RE = re.compile(r"^heapviz: timings: (\{.*\})$", re.MULTILINE)
# heapviz commands: name -> arguments after the profile ({out} is the output directory)
HEAPVIZ_COMMANDS = {
    "top": ["top"],
    "graph svg": ["graph", "-o", "{out}/graph.svg"],
    "report pdf": ["report", "-o", "{out}/leak.pdf"],
    "report html": ["report", "-o", "{out}/leak.html"],
}
REFERENCE_TOOLS = ("go tool pprof -svg", "google-pprof --svg", "pprof -svg (binutils)")
# issue 9: report -o leak.pdf at the largest size against each reference tool (time ratio at most)
TARGETS = {"go tool pprof -svg": 0.1, "google-pprof --svg": 0.2, "pprof -svg (binutils)": 1.0}
PARSE_TARGET_MBPS = 100.0
# issue 20, on each shape's 250k profile: (command, time ratio at most against pprof -svg (binutils))
ISSUE20_TOOL = "pprof -svg (binutils)"
ISSUE20_TIME = {"report pdf": 0.1, "report html": 0.15}
ISSUE20_RSS_MB = 400.0
ISSUE20_1M = (4.5, 1536.0)  # the 1M-stack profile: at most this times the 250k time, under this RSS (MiB)


@dataclass
class Run:
    """One child process: wall seconds, peak RSS (MiB) of it and its descendants, exit status."""
    wall_s: float
    rss_mb: float
    rc: int
    status: str  # ok, timeout, failed
    phases: dict[str, float] = field(default_factory=dict)


@dataclass
class Profile:
    name: str
    path: str
    stacks: int
    lines: int
    size_mb: float
    build_s: dict[str, float] = field(default_factory=dict)
    binary: str = ""


def build_measure(out: Path) -> Path:
    """Compile bench/measure.c, the launcher that reports one command's own wall time and peak RSS."""
    src = Path(__file__).resolve().parent / "measure.c"
    exe = out / "measure"
    if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["gcc", "-O1", "-o", str(exe), str(src)], check=True)
    return exe


def measure(helper: Path, argv: list[str], stdout: Path, timeout: float, env: dict[str, str] | None = None,
            cwd: str | None = None) -> tuple[Run, str]:
    """Run argv through `helper` (bench/measure.c): wall time and ru_maxrss of that command alone.

    Not os.wait4 on a child of this process: a child's ru_maxrss starts from the RSS of the
    process it was forked from, and this harness holds hundreds of MB after writing the
    synthetic profile. The small launcher forks the command and waits for it with wait4."""
    killed = threading.Event()
    with stdout.open("wb") as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rusage") as res:
        proc = subprocess.Popen([str(helper), res.name, *argv], stdout=out, stderr=err, env=env, cwd=cwd,
                                start_new_session=True)

        def kill() -> None:
            killed.set()
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        start = time.perf_counter()
        try:
            proc.wait()
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)  # helpers left behind by a killed tool
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        fields = res.read().split()
    if killed.is_set() or len(fields) != 3:
        return Run(round(wall, 3), 0.0, -9, "timeout" if killed.is_set() else "failed"), stderr
    rc, wall_s, rss_kb = int(fields[0]), float(fields[1]), int(fields[2])
    return Run(round(wall_s, 3), round(rss_kb / 1024, 1), rc, "ok" if rc == 0 else "failed"), stderr


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HEAP", "TCMALLOC", "PPROF")) and k not in ("LD_PRELOAD", "MALLOC_CONF")}
    env.update(extra)
    return env


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---- building the profiles ------------------------------------------------------------------

def build_program(out: Path, functions: int, shape: str = "layered", seed: int = 9) -> tuple[Path, dict[str, float]]:
    """Generate and compile the program; reuse the binary when source and flags are unchanged.
    Another `seed` is another build: the same functions, wired and placed differently."""
    times: dict[str, float] = {}
    t = time.perf_counter()
    src = gen_program.generate(functions, seed=seed, shape=shape)
    times["generate_s"] = round(time.perf_counter() - t, 2)
    key = sha((src + " ".join(CFLAGS)).encode())
    exe = out / (f"leakbench-{functions}" if shape == "layered" else f"leakbench-{shape}-{functions}")
    if seed != 9:
        exe = exe.with_name(f"{exe.name}-seed{seed}")
    stamp = exe.with_name(exe.name + ".key")
    if exe.exists() and stamp.exists() and stamp.read_text() == key:
        times["compile_s"] = 0.0
        return exe, times
    c = exe.with_name(exe.name + ".c")
    c.write_text(src)
    log(f"compiling {c.name} ({functions} functions)")
    t = time.perf_counter()
    subprocess.run(["gcc", *CFLAGS, "-o", str(exe), str(c), "-ltcmalloc"], check=True)
    times["compile_s"] = round(time.perf_counter() - t, 2)
    stamp.write_text(key)
    return exe, times


def count_stacks(path: Path) -> tuple[int, int]:
    """(sample lines, distinct stacks) of a gperftools heap file."""
    lines = 0
    stacks: set[int] = set()
    with path.open("rb") as f:
        next(f)
        for line in f:
            at = line.find(b"@")
            if at < 0:
                if line.startswith(b"MAPPED_LIBRARIES"):
                    break
                continue
            lines += 1
            stacks.add(hash(line[at:]))
    return lines, len(stacks)


def heapcheck_profile(out: Path, exe: Path, iterations: int, build: dict[str, float], label: str = "real") -> Profile:
    """Run exe under HEAPCHECK=normal; its `_main_-end.heap` holds one line per leaked block."""
    dst = out / f"{exe.name}-{iterations}.heap"
    meta = dst.with_suffix(".json")
    key = (exe.parent / f"{exe.name}.key").read_text()
    if dst.exists() and meta.exists():
        m = json.loads(meta.read_text())
        if m.get("key") == key:
            return Profile(**m["profile"])
    dump = out / "heapcheck.d"
    shutil.rmtree(dump, ignore_errors=True)
    dump.mkdir()
    log(f"running {exe.name} {iterations} under the heap checker")
    env = clean_env(HEAPCHECK="normal", HEAP_CHECK_DUMP_DIRECTORY=str(dump), PPROF_PATH="/nonexistent")
    t = time.perf_counter()
    proc = subprocess.run([str(exe), str(iterations)], env=env, cwd="/", capture_output=True, check=False)
    run_s = time.perf_counter() - t
    heaps = list(dump.glob("*._main_-end.heap"))
    if proc.returncode != 1 or len(heaps) != 1:
        sys.exit(f"bench: {exe.name} {iterations}: expected exit 1 and one heap-checker dump, got "
                 f"{proc.returncode} and {len(heaps)}:\n{proc.stderr.decode(errors='replace')[-2000:]}")
    heaps[0].replace(dst)
    shutil.rmtree(dump)
    lines, stacks = count_stacks(dst)
    p = Profile(f"{label} {iterations // 1000 or iterations}{'k' if iterations >= 1000 else ''}", str(dst), stacks,
                lines, round(dst.stat().st_size / 1e6, 1), dict(build, run_s=round(run_s, 2)), str(exe))
    meta.write_text(json.dumps({"key": key, "profile": asdict(p)}))
    return p


def series_profile(out: Path, exe: Path, iterations: int, interval: int, build: dict[str, float]) -> Profile:
    """Run exe under HEAPPROFILE with a dump every `interval` bytes allocated: a nightly job's
    series of dumps (gperftools caps each near 1 MiB). Its path is a glob of the dumps."""
    dump = out / f"series-{iterations}-{interval}"
    meta = out / f"series-{iterations}-{interval}.json"
    key = (exe.parent / f"{exe.name}.key").read_text()
    if meta.exists() and json.loads(meta.read_text()).get("key") == key:
        return Profile(**json.loads(meta.read_text())["profile"])
    shutil.rmtree(dump, ignore_errors=True)
    dump.mkdir()
    log(f"running {exe.name} {iterations} under the heap profiler, a dump every {interval} bytes")
    env = clean_env(HEAPPROFILE=str(dump / "lb"), HEAP_PROFILE_ALLOCATION_INTERVAL=str(interval))
    t = time.perf_counter()
    proc = subprocess.run([str(exe), str(iterations)], env=env, cwd="/", capture_output=True, check=False)
    run_s = time.perf_counter() - t
    heaps = sorted(dump.glob("lb.*.heap"))
    if proc.returncode != 0 or len(heaps) < 2:
        sys.exit(f"bench: {exe.name} {iterations} under HEAPPROFILE: expected exit 0 and several dumps, got "
                 f"{proc.returncode} and {len(heaps)}:\n{proc.stderr.decode(errors='replace')[-2000:]}")
    counts = [count_stacks(h) for h in heaps]
    p = Profile(f"series of {len(heaps)} dumps", str(dump / "lb.*.heap"), sum(c[1] for c in counts),
                sum(c[0] for c in counts), round(sum(h.stat().st_size for h in heaps) / 1e6, 1),
                dict(build, run_s=round(run_s, 2)), str(exe))
    meta.write_text(json.dumps({"key": key, "profile": asdict(p)}))
    return p


def synthetic_profile(out: Path, src: Profile, lines: int) -> Profile:
    """Scale a real dump up to `lines` sample lines: its lines repeated, each copy with one frame
    swapped for another real address (so stacks stay distinct and symbolizable); same maps."""
    dst = out / f"synthetic-{lines}.heap"
    meta = dst.with_suffix(".json")
    key = sha(f"{src.path}:{os.path.getsize(src.path)}:{os.path.getmtime(src.path)}:{lines}".encode())
    if dst.exists() and meta.exists() and json.loads(meta.read_text()).get("key") == key:
        return Profile(**json.loads(meta.read_text())["profile"])
    log(f"writing {dst.name}")
    t = time.perf_counter()
    data = Path(src.path).read_bytes()
    _, _, rest = data.partition(b"\n")
    body, sep, maps = rest.partition(b"\nMAPPED_LIBRARIES:")
    samples = [ln.split(b"@", 1) for ln in body.split(b"\n") if b"@" in ln]
    pool = sorted({a for _, s in samples[:20000] for a in s.split()})
    rng = random.Random(1)
    total_objects = total_bytes = 0
    with dst.open("wb") as f:
        f.write(b"heap profile: %PLACEHOLDER% @ heapprofile\n".replace(b"%PLACEHOLDER%", b" " * 40))
        for i in range(lines):
            counts, stack = samples[i % len(samples)]
            if i >= len(samples):
                frames = stack.split()
                frames[rng.randrange(1, max(2, len(frames) - 4))] = rng.choice(pool)
                stack = b" " + b" ".join(frames)
            n, size = 1, int(counts.split()[1])
            total_objects += n
            total_bytes += size
            f.write(b"%6d: %8d [%6d: %8d] @%s\n" % (n, size, n, size, stack))
        f.write(sep + maps)
    # the header's totals must match the lines (heapviz warns otherwise)
    header = b"heap profile: %6d: %8d [%6d: %8d] @ heapprofile" % (total_objects, total_bytes, total_objects,
                                                                    total_bytes)
    width = len(b"heap profile: ") + 40 + len(b" @ heapprofile")
    with dst.open("r+b") as f:
        f.write(header.ljust(width))
    p = Profile(f"synthetic {lines // 1000}k lines", str(dst), lines, lines, round(dst.stat().st_size / 1e6, 1),
                {"write_s": round(time.perf_counter() - t, 2)}, src.binary)
    meta.write_text(json.dumps({"key": key, "profile": asdict(p)}))
    return p


# ---- measuring ------------------------------------------------------------------------------

def run_heapviz(prof: Profile, command: str, out: Path, runs: int, repeat_under: float,
                timeout: float) -> list[Run]:
    """Median-worthy runs of one heapviz command; runs slower than repeat_under are not repeated."""
    work = out / "out"
    work.mkdir(exist_ok=True)
    args = [a.format(out=work) for a in HEAPVIZ_COMMANDS[command]]
    paths = sorted(glob.glob(prof.path)) if "*" in prof.path else [prof.path]  # a series: its dumps
    argv = [sys.executable, "-m", "heapviz", args[0], *paths, *args[1:], "--timings"]
    result: list[Run] = []
    for i in range(runs):
        r, err = measure(build_measure(out), argv, work / "stdout.txt", timeout, env=clean_env())
        m = TIMINGS_RE.search(err)
        if m:
            r.phases = json.loads(m.group(1))
        elif r.status == "ok":
            r.status = "no timings"
        if r.status == "failed":
            log(f"heapviz {command} failed: {err.strip()[-500:]}")
        result.append(r)
        log(f"heapviz {command:12s} {prof.name:22s} run {i + 1}: {r.wall_s:8.2f} s {r.rss_mb:8.1f} MiB {r.status}")
        if r.status != "ok" or r.wall_s > repeat_under:
            break
    return result


def build_binutils_pprof(out: Path) -> Path | None:
    """google/pprof from Debian's golang-github-google-pprof-dev sources (offline, GOPATH mode)."""
    exe = out / "tools" / "pprof"
    if exe.exists():
        return exe
    if not shutil.which("go") or not Path("/usr/share/gocode/src/github.com/google/pprof").is_dir():
        log("go or golang-github-google-pprof-dev missing: skipping pprof (binutils)")
        return None
    exe.parent.mkdir(parents=True, exist_ok=True)
    log("building pprof from /usr/share/gocode")
    env = clean_env(GOPATH="/usr/share/gocode", GO111MODULE="off", GOCACHE=str(out / "gocache"),
                    HOME=str(exe.parent))
    env.pop("GOFLAGS", None)
    subprocess.run(["go", "build", "-o", str(exe), "github.com/google/pprof"], env=env, cwd=str(exe.parent),
                   check=True, timeout=900)
    return exe


def reference_argv(tool: str, out: Path, binary: str, profile: str) -> list[str] | None:
    if tool == "go tool pprof -svg":
        return ["go", "tool", "pprof", "-svg", binary, profile] if shutil.which("go") else None
    if tool == "google-pprof --svg":
        return ["google-pprof", "--svg", binary, profile] if shutil.which("google-pprof") else None
    exe = build_binutils_pprof(out)
    return [str(exe), "-svg", binary, profile] if exe else None


def run_reference(prof: Profile, out: Path, timeout: float, rerun: bool, cache_only: bool = False,
                  tools: tuple[str, ...] = REFERENCE_TOOLS) -> dict[str, Run]:
    """Each reference tool once; results are cached (they do not depend on heapviz's code)."""
    cache_path = out / "reference-cache.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    st = os.stat(prof.path)
    results: dict[str, Run] = {}
    for tool in tools:
        key = f"{tool}|{prof.path}|{st.st_size}|{int(st.st_mtime)}|{timeout}"
        if key in cache and not rerun:
            results[tool] = Run(**cache[key])
            results[tool].status += " (cached)"
            log(f"{tool}: cached {results[tool].wall_s} s")
            continue
        if cache_only:
            continue
        argv = reference_argv(tool, out, prof.binary, prof.path)
        if argv is None:
            continue
        log(f"running {tool} on {prof.name} (timeout {timeout:.0f} s)")
        tmp = out / "tmp"
        tmp.mkdir(exist_ok=True)
        env = clean_env(GOCACHE=str(out / "gocache"), PPROF_TMPDIR=str(tmp), HOME=str(tmp))
        svg = out / "out" / f"{tool.split()[0]}-{tool.split()[-1].strip('()')}.svg"
        svg.parent.mkdir(exist_ok=True)
        r, err = measure(build_measure(out), argv, svg, timeout, env=env, cwd=str(tmp))
        if r.status == "failed":
            log(f"{tool} failed: {err.strip()[-500:]}")
        log(f"{tool}: {r.wall_s} s {r.rss_mb} MiB {r.status}")
        results[tool] = r
        cache[key] = asdict(r)
        cache_path.write_text(json.dumps(cache, indent=1))
    return results


# ---- machine and report ---------------------------------------------------------------------

def _first_line(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    text = (p.stdout or p.stderr).strip()
    return text.splitlines()[0] if text else "missing"


def _llvm_version() -> str:
    try:
        p = subprocess.run(["llvm-symbolizer", "--version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    m = re.search(r"LLVM version \S+", p.stdout)
    return m.group(0) if m else "unknown"


def _git_state() -> str:
    """The commit measured, and whether the working tree had local changes (read-only git calls)."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=60, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} + local changes" if dirty else head


def machine() -> dict[str, str]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next((int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), 0)
    from heapviz import __version__
    from heapviz.formats import gperftools_heap
    os_name = "unknown"
    with contextlib.suppress(OSError, StopIteration):
        os_name = next(ln.split("=", 1)[1].strip('"') for ln in Path("/etc/os-release").read_text().splitlines()
                       if ln.startswith("PRETTY_NAME="))
    return {
        "cpu": cpu, "cores": str(os.cpu_count()), "ram": f"{mem / 1024 / 1024:.1f} GiB", "os": os_name,
        "python": platform.python_version(), "heapviz": __version__,
        "heap profile parser": "compiled scanner (heapviz/formats/_heapscan.c)" if gperftools_heap.uses_scanner()
        else "pure Python (the compiled scanner is not built)",
        "gcc": _first_line(["gcc", "--version"]), "graphviz": _first_line(["dot", "-V"]),
        "llvm-symbolizer": _llvm_version(),
        "go": _first_line(["go", "version"]), "google-pprof": _first_line(["google-pprof", "--version"]),
        "heapviz tree": _git_state(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _median(runs: list[Run], what: str) -> float | None:
    ok = [r for r in runs if r.status == "ok"]
    if not ok:
        return None
    if what == "wall":
        return statistics.median(r.wall_s for r in ok)
    if what == "rss":
        return statistics.median(r.rss_mb for r in ok)
    vals = [sum(v for k, v in r.phases.items() if k == what or k.startswith(what + "_")) for r in ok]
    return statistics.median(vals)


def _s(v: float | None) -> str:
    return "—" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}")


def issue20(profiles: list[Profile], hv: dict[str, dict[str, list[Run]]], refs: dict[str, Run]) -> list[str]:
    """Issue 20's targets on the 250k profile of each shape (refs: profile name -> pprof (binutils)),
    and the 1M-stack profile against the layered 250k one."""
    md = ["", f"### Issue 20 targets (against `{ISSUE20_TOOL}` on the same profile, same run)", "",
          "| profile | target | measured | met |", "|---|---|---|---|"]
    for name, ref in refs.items():
        for cmd, limit in ISSUE20_TIME.items():
            w = _median(hv.get(name, {}).get(cmd, []), "wall")
            if w is None or not ref.status.startswith("ok"):
                continue
            md.append(f"| {name} | `{cmd}` ≤ {limit}× | {w / ref.wall_s:.2f}× ({_s(w)} s vs {_s(ref.wall_s)} s) | "
                      f"{'yes' if w / ref.wall_s <= limit else 'no'} |")
        for cmd in ISSUE20_TIME:
            m = _median(hv.get(name, {}).get(cmd, []), "rss")
            if m is not None:
                md.append(f"| {name} | `{cmd}` peak RSS ≤ {ISSUE20_RSS_MB:.0f} MiB | {_s(m)} MiB | "
                          f"{'yes' if m <= ISSUE20_RSS_MB else 'no'} |")
    big = [p for p in profiles if p.stacks >= 900_000]
    base = next((n for n in refs if n.startswith("real")), None)
    for p in big:
        for cmd, runs in hv.get(p.name, {}).items():
            w, m = _median(runs, "wall"), _median(runs, "rss")
            w0 = _median(hv.get(base, {}).get(cmd, []), "wall") if base else None
            if w is None or m is None or not w0:
                continue
            md.append(f"| {p.name} | `{cmd}` ≤ {ISSUE20_1M[0]}× {base}, < {ISSUE20_1M[1] / 1024:.1f} GiB | "
                      f"{w / w0:.2f}× ({_s(w)} s vs {_s(w0)} s), {_s(m)} MiB | "
                      f"{'yes' if w / w0 <= ISSUE20_1M[0] and m < ISSUE20_1M[1] else 'no'} |")
    return md


def report(info: dict[str, str], profiles: list[Profile], hv: dict[str, dict[str, list[Run]]],
           ref: dict[str, Run], largest: Profile | None, refs: dict[str, Run] | None = None) -> str:
    md = ["### Machine", ""]
    md += [f"- {k}: {v}" for k, v in info.items()]
    md += ["", "### Profiles", "",
           "| profile | distinct stacks | sample lines | MB | built in (s) |", "|---|---:|---:|---:|---|"]
    for p in profiles:
        built = ", ".join(f"{k[:-2]} {v}" for k, v in p.build_s.items())
        md.append(f"| {p.name} | {p.stacks:,} | {p.lines:,} | {p.size_mb} | {built} |")
    md += ["", "### heapviz (median of the runs; phases from `--timings`, seconds)", "",
           "| profile | command | runs | wall s | peak RSS MiB | " + " | ".join(PHASES) + " | other | parse MB/s |",
           "|---|---|---:|---:|---:|" + "---:|" * (len(PHASES) + 2)]
    for p in profiles:
        for cmd, runs in hv.get(p.name, {}).items():
            wall = _median(runs, "wall")
            ph = {k: _median(runs, k) for k in PHASES}
            timed = sum(v for v in ph.values() if v) if wall is not None else None
            other = None if wall is None or timed is None else wall - timed
            parse = ph["parse"]
            mbps = f"{p.size_mb / parse:.0f}" if parse else "—"
            status = "" if runs and runs[-1].status == "ok" else f" ({runs[-1].status if runs else 'not run'})"
            md.append(f"| {p.name} | `{cmd}`{status} | {len(runs)} | {_s(wall)} | {_s(_median(runs, 'rss'))} | "
                      + " | ".join(_s(ph[k]) if ph[k] else "—" for k in PHASES) + f" | {_s(other)} | {mbps} |")
    if ref and largest is not None:
        md += ["", f"### Reference tools, once each, on {largest.name} ({largest.stacks:,} stacks)", "",
               "| tool | wall s | peak RSS MiB | status |", "|---|---:|---:|---|"]
        for tool, r in ref.items():
            md.append(f"| `{tool}` | {_s(r.wall_s)} | {_s(r.rss_mb)} | {r.status} |")
        md += ["", f"### heapviz / reference on {largest.name} (time ratio, RSS ratio; < 1 is heapviz faster/smaller)",
               "", "| heapviz command | " + " | ".join(f"`{t}`" for t in ref) + " |",
               "|---|" + "---|" * len(ref)]
        for cmd, runs in hv.get(largest.name, {}).items():
            cells = []
            for r in ref.values():
                w, m = _median(runs, "wall"), _median(runs, "rss")
                if w is None or not r.status.startswith("ok"):
                    cells.append(f"— (reference {r.status})" if w is not None else "—")
                else:
                    cells.append(f"{w / r.wall_s:.2f}× time, {m / r.rss_mb:.2f}× RSS" if m else "—")
            md.append(f"| `{cmd}` | " + " | ".join(cells) + " |")
    md += ["", "### Issue 9 targets (`report -o leak.pdf` on the largest real profile)", "",
           "| target | measured | met |", "|---|---|---|"]
    if ref and largest is not None:
        pdf = hv.get(largest.name, {}).get("report pdf", [])
        w, m = _median(pdf, "wall"), _median(pdf, "rss")
        for tool, limit in TARGETS.items():
            r = ref.get(tool)
            if r is None or w is None:
                continue
            if r.status.startswith("ok"):
                ratio = w / r.wall_s
                met = ratio < 1 if limit == 1.0 else ratio <= limit
                cmp = "below" if limit == 1.0 else f"≤ {limit}×"
                md.append(f"| time {cmp} `{tool}` | {ratio:.2f}× ({_s(w)} s vs {_s(r.wall_s)} s) | "
                          f"{'yes' if met else 'no'} |")
            else:
                md.append(f"| time vs `{tool}` | {_s(w)} s vs {r.status} after {_s(r.wall_s)} s | "
                          f"{'yes' if w < r.wall_s * limit else 'unknown'} |")
        go = ref.get("go tool pprof -svg")
        if go is not None and m is not None and go.status.startswith("ok"):
            md.append(f"| peak RSS ≤ `go tool pprof -svg` | {_s(m)} MiB vs {_s(go.rss_mb)} MiB | "
                      f"{'yes' if m <= go.rss_mb else 'no'} |")
    parse_rates = [(p, p.size_mb / v) for p in profiles for cmd, runs in hv.get(p.name, {}).items()
                   if cmd == "top" and (v := _median(runs, "parse"))]
    if parse_rates:
        best = max(parse_rates, key=lambda x: x[0].size_mb)
        md.append(f"| parsing ≥ {PARSE_TARGET_MBPS:.0f} MB/s | {best[1]:.0f} MB/s on {best[0].name} "
                  f"({best[0].size_mb} MB) | {'yes' if best[1] >= PARSE_TARGET_MBPS else 'no'} |")
    md += issue20(profiles, hv, refs or {})
    md += ["", "Growth with size (wall s / peak RSS MiB):", "",
           "| command | " + " | ".join(p.name for p in profiles) + " |", "|---|" + "---:|" * len(profiles)]
    for cmd in HEAPVIZ_COMMANDS:
        cells = []
        for p in profiles:
            runs = hv.get(p.name, {}).get(cmd)
            cells.append(f"{_s(_median(runs, 'wall'))} / {_s(_median(runs, 'rss'))}" if runs else "—")
        md.append(f"| `{cmd}` | " + " | ".join(cells) + " |")
    return "\n".join(md) + "\n"


def explorer_page(out: Path, prof: Profile, runs: int) -> dict | None:
    """Issue 15's budget on the largest profile: its HTML report (written once more, untimed)
    opened in headless Chromium (bench/explorer_bench.py); None where Chromium is missing."""
    page = out / "out" / f"explorer-{prof.name.replace(' ', '-')}.html"
    page.parent.mkdir(exist_ok=True)
    got = subprocess.run([sys.executable, "-m", "heapviz", "-q", "report", prof.path, "-o", str(page)],
                         env=clean_env(), capture_output=True, text=True)
    if got.returncode != 0:
        log(f"explorer: the report failed: {got.stderr.strip()[-300:]}")
        return None
    try:
        res = explorer_bench.measure(page, max(runs, 1))
    except (ImportError, SystemExit) as e:
        log(f"explorer: not measured ({e})")
        return None
    log(f"explorer {prof.name}: {res['html_mb']:.2f} MB, first paint {res['first_paint_s']:.2f} s, "
        f"refine {res['refine_s']:.2f} s")
    return res


def fleet(out: Path, args: argparse.Namespace) -> list[fleet_bench.FleetRun]:
    """Issue 20's fleet: the builds' pools of stacks, then every size in every mode."""
    sizes = [int(n) for n in args.fleet_sizes.split(",") if n.strip()]
    if not sizes:
        return []
    bases = []
    for seed in fleet_bench.BUILD_SEEDS:
        exe, build = build_program(out, args.fleet_functions, seed=seed)
        bases.append(Path(heapcheck_profile(out, exe, 2000, build, "fleet base").path))
    helper = build_measure(out)

    def run(argv: list[str], stdout: Path, timeout: float, env: dict[str, str]) -> tuple[Run, str]:
        return measure(helper, argv, stdout, timeout, env=env)

    modes = tuple(m.strip() for m in args.fleet_modes.split(",") if m.strip())
    for m in modes:
        if m not in fleet_bench.MODES:
            sys.exit(f"bench: unknown fleet mode {m!r}; choose from {', '.join(fleet_bench.MODES)}")
    return fleet_bench.run_fleet(out, sizes, bases, run, clean_env(), args.timeout, log, modes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "build" / "bench"), help="work and results directory")
    ap.add_argument("--sizes", default="10000,100000,250000",
                    help="leak iterations (≈ distinct stacks) of the real profiles, comma-separated")
    ap.add_argument("--functions", type=int, default=3000, help="functions in the generated program")
    ap.add_argument("--recursive-sizes", default="250000",
                    help="leak iterations of the profiles of the recursive program (recursion and calls back into "
                         "any function; see bench/gen_program.py), comma-separated; empty: none")
    ap.add_argument("--synthetic-lines", type=int, default=1_000_000,
                    help="sample lines of the scaled-up dump for parser throughput (0: none)")
    ap.add_argument("--commands", default=",".join(HEAPVIZ_COMMANDS),
                    help="heapviz commands to time: " + ", ".join(HEAPVIZ_COMMANDS))
    ap.add_argument("--synthetic-commands", default="top,report pdf",
                    help="heapviz commands to time on the synthetic dump")
    ap.add_argument("--series-iterations", type=int, default=100_000,
                    help="leak iterations of the run that writes a series of HEAPPROFILE dumps (0: none)")
    ap.add_argument("--series-interval", type=int, default=300_000,
                    help="bytes allocated between the series' dumps (HEAP_PROFILE_ALLOCATION_INTERVAL)")
    ap.add_argument("--series-commands", default="report html,report pdf",
                    help="heapviz commands to time on the series")
    ap.add_argument("--runs", type=int, default=3, help="runs per heapviz command (median)")
    ap.add_argument("--repeat-under", type=float, default=60.0, metavar="SECONDS",
                    help="repeat a heapviz command only while one run takes less than this")
    ap.add_argument("--timeout", type=float, default=900.0, help="per heapviz run (seconds)")
    ap.add_argument("--ref-timeout", type=float, default=600.0, help="per reference tool run (seconds)")
    ap.add_argument("--skip-reference", action="store_true", help="do not run the reference tools")
    ap.add_argument("--rerun-reference", action="store_true",
                    help="run the reference tools again instead of reusing their cached results")
    ap.add_argument("--report-only", action="store_true",
                    help="rebuild the tables from --out's results.json and cached reference results")
    ap.add_argument("--fleet-sizes", default="1000,2000",
                    help="profiles of the generated fleets merged serially, with --jobs 2 and on a 2-worker Dask "
                         "LocalCluster, comma-separated (issue 20: add 10000 to see the workers' RSS stay flat); "
                         "empty: none")
    ap.add_argument("--fleet-functions", type=int, default=300, help="functions in the fleet's generated program")
    ap.add_argument("--fleet-only", action="store_true", help="run only the fleet part")
    ap.add_argument("--fleet-modes", default=",".join(fleet_bench.MODES),
                    help="the fleet's modes, comma-separated: " + ", ".join(fleet_bench.MODES))
    ap.add_argument("--skip-explorer", action="store_true",
                    help="do not measure the HTML report's explorer in headless Chromium")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes, one run, no reference tools: a smoke test of the harness")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.functions, args.synthetic_lines, args.runs = "1000", 120, 3000, 1
        # none of the recursive shape: at 120 functions nearly every call between them is above
        # the edge cutoff, and Graphviz takes minutes on such a dense graph (--layout-timeout)
        args.recursive_sizes = ""
        args.synthetic_commands = "top"  # a 3k-line synthetic graph is as dense
        args.series_iterations, args.series_interval = 2000, 20000
        args.skip_reference = True
        args.fleet_sizes, args.fleet_functions = "12,24", 120
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    syn_commands = [c.strip() for c in args.synthetic_commands.split(",") if c.strip()]
    series_commands = [c.strip() for c in args.series_commands.split(",") if c.strip()]
    for c in (*commands, *syn_commands, *series_commands):
        if c not in HEAPVIZ_COMMANDS:
            ap.error(f"unknown command {c!r}; choose from {', '.join(HEAPVIZ_COMMANDS)}")
    info = machine()
    started = time.perf_counter()
    if args.fleet_only:
        runs = fleet(out, args)
        md = "\n".join(fleet_bench.fleet_table(runs)).lstrip("\n") + "\n"
        print(md)
        (out / "fleet.md").write_text(md)
        (out / "fleet.json").write_text(json.dumps({"machine": info, "fleet": fleet_bench.as_json(runs)}, indent=1))
        log(f"wrote {out / 'fleet.md'} and {out / 'fleet.json'}")
        return 0

    exe, build = build_program(out, args.functions)
    profiles = [heapcheck_profile(out, exe, int(n), build) for n in args.sizes.split(",")]
    largest = max(profiles, key=lambda p: p.stacks)
    recursive: list[Profile] = []
    if args.recursive_sizes.strip():
        rec_exe, rec_build = build_program(out, args.functions, "recursive")
        recursive = [heapcheck_profile(out, rec_exe, int(n), rec_build, "recursive")
                     for n in args.recursive_sizes.split(",") if n.strip()]
        profiles += recursive
    synthetic = synthetic_profile(out, largest, args.synthetic_lines) if args.synthetic_lines else None
    series = series_profile(out, exe, args.series_iterations, args.series_interval, build) \
        if args.series_iterations else None

    hv: dict[str, dict[str, list[Run]]] = {}
    if args.report_only:
        old = json.loads((out / "results.json").read_text())
        hv = {p: {c: [Run(**r) for r in runs] for c, runs in cmds.items()} for p, cmds in old["heapviz"].items()}
        info = old["machine"]
    else:
        for p in profiles:
            hv[p.name] = {c: run_heapviz(p, c, out, args.runs, args.repeat_under, args.timeout) for c in commands}
    if synthetic is not None and not args.report_only:
        hv[synthetic.name] = {c: run_heapviz(synthetic, c, out, args.runs, args.repeat_under, args.timeout)
                              for c in syn_commands}
    if series is not None and not args.report_only:
        hv[series.name] = {c: run_heapviz(series, c, out, args.runs, args.repeat_under, args.timeout)
                           for c in series_commands}
    ref = {} if args.skip_reference else run_reference(largest, out, args.ref_timeout, args.rerun_reference,
                                                       cache_only=args.report_only)
    refs: dict[str, Run] = {}
    if not args.skip_reference:
        refs[largest.name] = ref.get(ISSUE20_TOOL, Run(0.0, 0.0, -1, "not run"))
        if recursive:
            big_rec = max(recursive, key=lambda p: p.stacks)
            got = run_reference(big_rec, out, args.ref_timeout, args.rerun_reference, cache_only=args.report_only,
                                tools=(ISSUE20_TOOL,))
            if ISSUE20_TOOL in got:
                refs[big_rec.name] = got[ISSUE20_TOOL]
    fleet_runs = [] if args.report_only else fleet(out, args)
    explorer = None if args.report_only or args.skip_explorer else explorer_page(out, largest, args.runs)
    if not args.report_only:
        info["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        info["bench wall time"] = f"{time.perf_counter() - started:.0f} s"

    all_profiles = profiles + ([synthetic] if synthetic else []) + ([series] if series else [])
    md = report(info, all_profiles, hv, ref, largest if not args.skip_reference else None, refs)
    md += "\n".join(fleet_bench.fleet_table(fleet_runs)) + ("\n" if fleet_runs else "")
    if explorer is not None:
        md += f"\n### The HTML report's explorer on {largest.name}\n\n"
        md += "\n".join(explorer_bench.markdown(explorer)) + "\n"
    print(md)
    (out / "results.md").write_text(md)
    (out / "results.json").write_text(json.dumps({
        "machine": info, "profiles": [asdict(p) for p in all_profiles],
        "heapviz": {p: {c: [asdict(r) for r in runs] for c, runs in cmds.items()} for p, cmds in hv.items()},
        "reference": {t: asdict(r) for t, r in ref.items()}, "reference_profile": largest.name,
        "issue20_reference": {p: asdict(r) for p, r in refs.items()},
        "fleet": fleet_bench.as_json(fleet_runs), "explorer": explorer,
    }, indent=1))
    log(f"wrote {out / 'results.md'} and {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""From the first command to daily use: `heapviz doctor`, `--version`, `python -m heapviz` against
the console script, an install without a C compiler (the pure Python paths, same output), and
examples/nightly.sh after that install and from the checkout without one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import ROOT, run_heapviz

VENV_BIN = Path(sys.executable).parent
SCRIPT = VENV_BIN / "heapviz"  # the console script of the environment running the tests


def _path_without_heapviz() -> str:
    """PATH minus every folder that holds a heapviz command."""
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not os.path.exists(os.path.join(d, "heapviz")))


def test_doctor_lists_tools_versions_and_paths():
    r = run_heapviz("doctor")
    assert r.rc == 0, r.out + r.err
    rows = {line[9:].split("  ")[0].strip(): line for line in r.out.splitlines() if line[:2] in ("ok", "mi", "MI")}
    for name in ("Graphviz dot", "llvm-symbolizer", "addr2line", "c++filt", "compiled _heapscan",
                 "compiled _groupby", "Python numpy", "Python reportlab"):
        assert name in rows, r.out
    dot = rows["Graphviz dot"].split()
    assert dot[0] == "ok" and dot[-1] == shutil.which("dot") and dot[3][0].isdigit()
    assert rows["llvm-symbolizer"].split()[-1].endswith(("llvm-symbolizer", *(f"-{v}" for v in range(11, 21))))
    assert r.out.startswith("heapviz 0.1.0 (")
    assert "heapviz: everything required is there" in r.out
    assert run_heapviz("--check-tools").out == r.out


def test_doctor_exits_1_without_a_symbolizer(tmp_path):
    # a PATH with nothing on it: no dot, no symbolizer, no c++filt
    r = run_heapviz("doctor", env={"PATH": str(tmp_path)})
    assert r.rc == 1
    lines = r.out.splitlines()
    assert any(line.startswith("MISSING  llvm-symbolizer") for line in lines)
    assert any(line.startswith("MISSING  addr2line") for line in lines)
    assert any(line.startswith("missing  Graphviz dot") for line in lines)  # optional: not a failure
    assert "without it: no `heapviz graph` images" in r.out
    assert "heapviz: missing what it needs: llvm-symbolizer, addr2line" in r.out
    assert "heapviz: install with: sudo apt-get install -y binutils llvm" in r.out


def test_one_symbolizer_is_enough(tmp_path):
    (tmp_path / "addr2line").symlink_to(shutil.which("addr2line"))
    r = run_heapviz("doctor", env={"PATH": str(tmp_path)})
    assert r.rc == 0, r.out
    assert any(line.startswith("missing  llvm-symbolizer") for line in r.out.splitlines())
    assert "optional while addr2line is there" in r.out


def test_module_and_console_script_behave_the_same(examples, tmp_path):
    assert SCRIPT.exists(), f"no console script next to {sys.executable}"
    profile = str(examples / "cxx.0002.heap")
    env = dict(os.environ, HEAPVIZ_NO_CACHE="1")
    for args in (["--version"], ["top", profile, "--nodecount", "5"], ["top", str(tmp_path / "missing.heap")],
                 [], ["top", profile, "--no-such-option"]):
        module = subprocess.run([sys.executable, "-m", "heapviz", *args], capture_output=True, text=True, env=env,
                                cwd=tmp_path)
        script = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert (module.returncode, module.stdout, module.stderr) == (script.returncode, script.stdout,
                                                                      script.stderr), args
    version = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("heapviz 0.1.0 (") and ("compiled" in version or "pure Python" in version)


def _copy_source(dest: Path) -> None:
    """The files an sdist holds, without anything built in place (no .so, no build/)."""
    dest.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info")
    for name in ("heapviz", "templates"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)


@pytest.fixture(scope="module")
def pure_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """heapviz built with the C compiler disabled (CC=false) and installed into a fresh virtual
    environment; its dependencies are the test environment's (a .pth file), nothing downloaded."""
    tmp = tmp_path_factory.mktemp("pure")
    _copy_source(tmp / "src")
    env = dict(os.environ, CC="false", CXX="false", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp / "dist"), str(tmp / "src")], env=env, capture_output=True, text=True,
                           timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    wheels = list((tmp / "dist").glob("heapviz-*.whl"))
    assert len(wheels) == 1
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(wheels[0])], env=env, check=True, timeout=300)
    site = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # the test environment's packages after the venv's own: its heapviz (editable, compiled) is
    # only found through a .pth file of its own, which a path added this way does not run
    Path(site, "heapviz-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _run(exe: Path, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, HEAPVIZ_NO_CACHE="1", **(env or {}))
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, env=full, timeout=300)


def test_without_a_c_compiler_the_pure_python_paths_give_the_same_output(pure_install, examples, tmp_path):
    pure = pure_install / "bin" / "heapviz"
    version = _run(pure, "--version", cwd=tmp_path)
    assert version.stdout == "heapviz 0.1.0 (pure Python: compiled parts not built)\n", version.stderr
    where = _run(pure_install / "bin" / "python", "-c", "import heapviz; print(heapviz.__file__)", cwd=tmp_path)
    assert where.stdout.startswith(str(pure_install)), where.stdout  # not the checkout's heapviz
    compiled = run_heapviz("--version")
    # make setup installs Python's headers, so the checkout's own build has its compiled parts
    assert "compiled parts in use" in compiled.out, compiled.out
    profile = str(examples / "cxx.0002.heap")
    for args in (["top", profile], ["top", profile, "--cum", "--sample-index", "alloc_space", "--format", "json"]):
        a, b = _run(pure, *args, cwd=tmp_path), run_heapviz(*args)
        assert a.returncode == b.rc == 0, a.stderr + b.err
        assert a.stdout == b.out
    # a series report: suspects and leak sites group whole stacks (the compiled hash table's work)
    dumps = [str(examples / f"threads.000{i}.heap") for i in (1, 2, 3, 4)]
    a = _run(pure, "report", *dumps, "-o", str(tmp_path / "pure.json"), "--no-command-line", cwd=tmp_path)
    b = run_heapviz("report", *dumps, "-o", str(tmp_path / "compiled.json"), "--no-command-line")
    assert a.returncode == b.rc == 0, a.stderr + b.err
    assert (tmp_path / "pure.json").read_bytes() == (tmp_path / "compiled.json").read_bytes()
    doctor = _run(pure, "doctor", cwd=tmp_path)
    assert doctor.returncode == 0
    assert any(line.startswith("missing  compiled _heapscan") for line in doctor.stdout.splitlines())


def _nightly(work: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("HEAPVIZ", "GITHUB_STEP_SUMMARY")}
    full.update(env, HEAPVIZ_NO_CACHE="1")
    return subprocess.run([str(ROOT / "examples" / "nightly.sh"), str(work), "64KiB"], env=full,
                          capture_output=True, text=True, timeout=600)


def _check_nightly_outputs(work: Path) -> None:
    (run,) = [d for d in work.iterdir() if d.is_dir() and d.name != "bin"]
    for name in ("growth.html", "growth.pdf", "summary.json", "summary.md", "leaks.junit.xml"):
        assert (run / name).stat().st_size > 0, name
    root = ET.parse(run / "leaks.junit.xml").getroot()
    assert root.get("tests") == "1" and root.get("failures") == "1"
    md = (run / "summary.md").read_text()
    assert "Full reports: growth.html (HTML report), growth.pdf (PDF report), summary.json (JSON summary)." in md


def test_nightly_after_install_uses_heapviz_on_path(pure_install, tmp_path):
    summary = tmp_path / "step-summary.md"
    r = _nightly(tmp_path / "work", {"PATH": f"{pure_install / 'bin'}{os.pathsep}{_path_without_heapviz()}",
                                     "GITHUB_STEP_SUMMARY": str(summary)})
    assert r.returncode == 3, r.stdout + r.stderr
    assert "(by heapviz, exit 3)" in r.stdout
    _check_nightly_outputs(tmp_path / "work")
    assert summary.read_text().startswith("## Heap profile of threads\\_series")


def test_nightly_from_the_checkout_finds_the_venv(tmp_path):
    venv_script = ROOT / ".venv" / "bin" / "heapviz"
    assert venv_script.exists(), "no .venv in the checkout (make test runs make setup, which makes one)"
    r = _nightly(tmp_path / "work", {"PATH": _path_without_heapviz()})
    assert r.returncode == 3, r.stdout + r.stderr
    assert f"(by {ROOT}/examples/../.venv/bin/heapviz, exit 3)" in r.stdout
    _check_nightly_outputs(tmp_path / "work")


def test_nightly_says_when_there_is_no_heapviz(tmp_path):
    # a copy of the script outside the checkout, with no heapviz on PATH and no .venv beside it
    script = tmp_path / "examples" / "nightly.sh"
    script.parent.mkdir()
    shutil.copy2(ROOT / "examples" / "nightly.sh", script)
    env = {k: v for k, v in os.environ.items() if k != "HEAPVIZ"}
    env["PATH"] = _path_without_heapviz()
    r = subprocess.run([str(script), str(tmp_path / "work")], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "nightly: heapviz not found" in r.stderr

#!/usr/bin/env bash
# Install the Debian packages heapviz needs, when they are missing.
# Usage: scripts/install-deps.sh [runtime|test]
# Installs only what is missing; needs root or sudo for that, else names the command to run.
set -euo pipefail

kind="${1:-runtime}"
# package:command-or-file that proves it is installed
runtime=(
  "graphviz:dot"
  "llvm:llvm-symbolizer"
  "binutils:addr2line"
  "gcc:gcc"
  "g++:g++"
  "make:make"
  "libgoogle-perftools-dev:/usr/include/gperftools/heap-profiler.h"
  "google-perftools:google-pprof"
  "fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
)
test_only=(
  "golang-go:go"
  "golang-github-google-pprof-dev:/usr/share/gocode/src/github.com/google/pprof/pprof.go"
  "poppler-utils:pdftotext"
  "chromium:chromium"
  "fonts-wqy-zenhei:/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
  "libjemalloc2:/usr/share/doc/libjemalloc2"
  "libjemalloc-dev:jeprof"
  "valgrind:valgrind"
  "debuginfod:debuginfod-find"
)
wanted=("${runtime[@]}")
if [ "$kind" = test ]; then wanted+=("${test_only[@]}"); fi
if ! python3 -m venv --help >/dev/null 2>&1; then wanted+=("python3-venv:/nonexistent"); fi
# The Python headers, for heapviz's compiled scanner of heap profile lines (setup.py)
py_include="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null || true)"
if [ -n "$py_include" ]; then wanted+=("python3-dev:$py_include/Python.h"); fi

missing=()
for entry in "${wanted[@]}"; do
  pkg="${entry%%:*}"; probe="${entry#*:}"
  if [[ "$probe" == /* ]]; then
    [ -e "$probe" ] || missing+=("$pkg")
  else
    command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"
else
  echo "heapviz: missing system packages: ${missing[*]}" >&2
  echo "heapviz: install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "heapviz: missing system packages (${missing[*]}) and no apt-get here; install their equivalents" >&2
  exit 1
fi
echo "heapviz: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

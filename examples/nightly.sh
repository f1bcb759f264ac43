#!/usr/bin/env bash
# A nightly leak check, as a cron job or CI step would run it:
#   1. profile the program (here: the threads_series example, which leaks steadily),
#   2. keep its dumps in a dated folder,
#   3. write the growth report (HTML and PDF), a JSON summary compared with last night's, a
#      Markdown summary (summary.md) and JUnit XML (leaks.junit.xml) for the CI system,
#   4. exit 3 when in-use memory grew by more than the threshold (the reports are written anyway).
#
# Usage: examples/nightly.sh WORKDIR [THRESHOLD]     (THRESHOLD like 64KiB or 10MB; default 1MB)
# heapviz is $HEAPVIZ when set, else heapviz on PATH (README: Install), else the checkout's
# .venv/bin/heapviz (after `make demo` or `make test`). On GitHub Actions the Markdown summary is
# also appended to the job's step summary ($GITHUB_STEP_SUMMARY).
set -euo pipefail
work=${1:?usage: nightly.sh WORKDIR [THRESHOLD]}
threshold=${2:-1MB}
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${HEAPVIZ:-}" ]; then heapviz=$HEAPVIZ
elif command -v heapviz >/dev/null 2>&1; then heapviz=heapviz
elif [ -x "$here/../.venv/bin/heapviz" ]; then heapviz="$here/../.venv/bin/heapviz"
else
  echo "nightly: heapviz not found: install it (README: Install), run 'make demo' in the checkout, or set HEAPVIZ" >&2
  exit 2
fi
run="$work/$(date -u +%Y%m%d-%H%M%S)-$$"
mkdir -p "$run"

make -s -C "$here" OUT="$work/bin" "$work/bin/threads_series" >/dev/null
"$work/bin/threads_series" "$run/threads" >/dev/null 2>&1

previous=()
if [ -f "$work/latest-summary.json" ]; then previous=(--previous "$work/latest-summary.json"); fi
status=0
# $heapviz unquoted: HEAPVIZ may be a command with arguments ("python3 -m heapviz")
# shellcheck disable=SC2086
$heapviz report "$run"/threads.*.heap -o "$run/growth.html" -o "$run/growth.pdf" -o "$run/summary.json" \
  -o "$run/summary.md" -o "$run/leaks.junit.xml" --fail-if-growth "$threshold" "${previous[@]}" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
  echo "nightly: heapviz failed (exit $status)" >&2
  exit "$status"
fi
cp "$run/summary.json" "$work/latest-summary.json"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$run/summary.md" >> "$GITHUB_STEP_SUMMARY"; fi
echo "nightly: report in $run/growth.html, CI summaries $run/summary.md and $run/leaks.junit.xml" \
  "(by $heapviz, exit $status)"
exit "$status"

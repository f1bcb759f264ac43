#!/usr/bin/env bash
# A nightly leak check, as a cron job or CI step would run it:
#   1. profile the program (here: the threads_series example, which leaks steadily),
#   2. keep its dumps in a dated folder,
#   3. write the growth report (HTML and PDF) and a JSON summary, compared with last night's,
#   4. exit 3 when in-use memory grew by more than the threshold (the reports are written anyway).
#
# Usage: examples/nightly.sh WORKDIR [THRESHOLD]     (THRESHOLD like 64KiB or 10MB; default 1MB)
# Set HEAPVIZ to the heapviz command (default: heapviz on PATH).
set -euo pipefail
work=${1:?usage: nightly.sh WORKDIR [THRESHOLD]}
threshold=${2:-1MB}
heapviz=${HEAPVIZ:-heapviz}
here=$(cd "$(dirname "$0")" && pwd)
run="$work/$(date -u +%Y%m%d-%H%M%S)-$$"
mkdir -p "$run"

make -s -C "$here" OUT="$work/bin" "$work/bin/threads_series" >/dev/null
"$work/bin/threads_series" "$run/threads" >/dev/null 2>&1

previous=()
if [ -f "$work/latest-summary.json" ]; then previous=(--previous "$work/latest-summary.json"); fi
status=0
# shellcheck disable=SC2086
$heapviz report "$run"/threads.*.heap -o "$run/growth.html" -o "$run/growth.pdf" -o "$run/summary.json" \
  --fail-if-growth "$threshold" "${previous[@]}" || status=$?
cp "$run/summary.json" "$work/latest-summary.json"
echo "nightly: report in $run/growth.html (exit $status)"
exit "$status"

#!/usr/bin/env python3
"""Check examples/expected.json against profiles, using google-pprof.

    python3 examples/check_expected.py [OUT_DIR]     (default: examples/build)

Run 'make -C examples OUT=OUT_DIR' first.  For every expected site F the
checked value is pprof's flat value of F when F is a leaf, otherwise its
cumulative value (the case of user functions whose leaf frame is inside
libc/libstdc++, see expected.json "notes").  Exit status 0 when all match.
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(r"^\s*(\d+)\s+\S+%\s+\S+%\s+(\d+)\s+\S+%\s+(.+?)\s*$")


def pprof(binary, profile, what, tool="google-pprof"):
    out = subprocess.run(
        [tool, "--text", "--show_bytes", "--" + what,
         "--nodecount=100000", "--nodefraction=0", "--edgefraction=0",
         binary, profile],
        check=True, capture_output=True, text=True).stdout
    total, rows = None, {}
    for line in out.splitlines():
        m = re.match(r"^Total: (\d+)", line)
        if m:
            total = int(m.group(1))
            continue
        m = LINE.match(line)
        if m:
            rows[m.group(3)] = (int(m.group(1)), int(m.group(2)))
    return total, rows


def value(rows, name):
    flat, cum = rows.get(name, (0, 0))
    return flat if flat else cum


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "build"))
    with open(os.path.join(HERE, "expected.json")) as f:
        exp = json.load(f)
    bad = checked = 0

    def check(label, got, want, tol=0.0):
        nonlocal bad, checked
        checked += 1
        ok = got == want if not tol else abs(got - want) <= tol * want
        if not ok:
            bad += 1
        print("%s %s: got %s, want %s%s" % ("ok  " if ok else "FAIL", label, got, want,
                                            " (+-%d%%)" % (tol * 100) if tol else ""))

    for prog, spec in exp.items():
        if not isinstance(spec, dict):
            continue
        binary = os.path.join(out, spec["binary"])
        tol = spec.get("suggested_tolerance", {})
        # google-pprof cannot read jemalloc's threaded heap_v2; jemalloc's jeprof can.
        jemalloc = spec.get("kind", "").startswith("jemalloc")
        for dump, sites in spec["dumps"].items():
            prof = os.path.join(out, dump)
            if jemalloc and not os.path.exists(prof):
                print("skip %s: libjemalloc2 is not installed" % dump)
                continue
            if "header_regex" in spec:
                with open(prof) as f:
                    head = f.readline().rstrip("\n")
                check("%s header" % dump, bool(re.match(spec["header_regex"], head)), True)
            total, rows = pprof(binary, prof, "inuse_space", "jeprof" if jemalloc else "google-pprof")
            for fn, want in sites.items():
                if spec.get("estimated"):
                    t = tol.get(fn)
                    if t is None:
                        check("%s %s present" % (dump, fn), value(rows, fn) > 0, True)
                    else:
                        check("%s %s (estimate)" % (dump, fn), value(rows, fn), want, t)
                else:
                    check("%s %s" % (dump, fn), value(rows, fn), want)
            if spec.get("total_inuse_exact"):
                check("%s total" % dump, total, spec["total_inuse"][dump])
            for fn, leaves in spec.get("pprof_leaf_names", {}).items():
                if fn in sites:
                    for leaf, want in leaves.items():
                        check("%s leaf %r" % (dump, leaf), rows.get(leaf, (0, 0))[0], want)
            if not spec.get("estimated"):
                _, orows = pprof(binary, prof, "inuse_objects", "jeprof" if jemalloc else "google-pprof")
                for fn, want in spec.get("inuse_objects", {}).get(dump, {}).items():
                    check("%s %s objects" % (dump, fn), value(orows, fn), want)
                if dump in spec.get("cumulative", {}):
                    for fn, want in spec["cumulative"][dump].items():
                        check("%s %s cumulative" % (dump, fn), rows.get(fn, (0, 0))[1], want)
                if dump in spec.get("alloc_space", {}):
                    _, arows = pprof(binary, prof, "alloc_space", "jeprof" if jemalloc else "google-pprof")
                    for fn, want in spec["alloc_space"][dump].items():
                        check("%s %s alloc_space" % (dump, fn), value(arows, fn), want)
    print("%d checked, %d failed" % (checked, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

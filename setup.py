"""heapviz's three small compiled parts: the sample-line scanner for gperftools heap profiles,
grouping of 64-bit keys by hashing for the stack table's sums, and the explorer's prefix tree.

All are optional: where they cannot be compiled (no C compiler or Python headers), heapviz
installs without them and does the same work in Python and numpy, a few times slower on big
profiles.
"""

from setuptools import Extension, setup

SHARED = "heapviz/_compiled.h"  # what _groupby.c and _prefix.c share
FLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]

setup(
    ext_modules=[
        Extension("heapviz.formats._heapscan", ["heapviz/formats/_heapscan.c"], optional=True, extra_compile_args=FLAGS),
        Extension("heapviz.graph._groupby", ["heapviz/graph/_groupby.c"], depends=[SHARED], optional=True,
                  extra_compile_args=FLAGS),
        Extension("heapviz.report._prefix", ["heapviz/report/_prefix.c"], depends=[SHARED], optional=True,
                  extra_compile_args=FLAGS),
    ]
)

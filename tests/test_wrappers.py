"""Allocation wrappers and collapsed series, on small hand-made inputs (issue 19); the real
programs are in test_real_programs.py."""

from __future__ import annotations

import re

import numpy as np
import pytest

from heapviz.growth import collapse_of
from heapviz.wrappers import (BUILTIN_WRAPPERS, Wrappers, WrapperOptions, cut_rows, is_unnamed, known_pattern,
                              leaf_cut)

W = Wrappers(pattern=re.compile("gmalloc|zmalloc"))


@pytest.mark.parametrize("name", ["g_malloc", "g_malloc0", "g_realloc", "g_slice_alloc", "xmalloc", "xcalloc",
                                  "xrealloc", "xstrdup", "PyMem_Malloc", "PyObject_Malloc", "PyMem_RawRealloc",
                                  "CRYPTO_malloc", "sqlite3Malloc", "av_malloc", "gmalloc", "zmalloc", "grealloc",
                                  "agalloc", "apr_palloc", "ngx_palloc"])
def test_built_in_list_names_the_issues_wrappers(name):
    assert known_pattern(WrapperOptions()).fullmatch(name)
    assert known_pattern(WrapperOptions(enabled=False)) is None
    assert known_pattern(WrapperOptions(builtin=False, extra=("mine",))).fullmatch("mine")


@pytest.mark.parametrize("name", ["main", "malloc_trim_helper", "named_virtual_node", "PyList_New", "g_free",
                                  "xfree", "make_record"])
def test_built_in_list_leaves_other_functions(name):
    assert not known_pattern(WrapperOptions()).fullmatch(name)
    assert all(project and rx for project, rx in BUILTIN_WRAPPERS)


def test_unnamed_frames():
    assert is_unnamed("[libglib-2.0.so.0]") and is_unnamed("libfoo.so+0x1f00") and is_unnamed("0x4005d0")
    assert not is_unnamed("g_slice_alloc") and not is_unnamed("operator new")


def test_leaf_cut_keeps_unnamed_frames_only_before_a_wrapper():
    #        row 0: wrapper, unnamed, f  | row 1: unnamed, f | row 2: all wrappers | row 3: empty
    w = np.array([1, 0, 0, 0, 0, 1, 1], dtype=bool)
    u = np.array([0, 1, 0, 1, 0, 0, 0], dtype=bool)
    starts = np.array([0, 3, 5, 7, 7])
    assert leaf_cut(w, u, starts).tolist() == [1, 0, 0, 0]
    u2 = np.array([1, 0, 0, 1, 0, 0, 0], dtype=bool)  # an unnamed frame at the leaf, then the wrapper
    w2 = np.array([0, 1, 0, 0, 0, 1, 1], dtype=bool)
    assert leaf_cut(w2, u2, starts).tolist() == [2, 0, 0, 0]


def test_cut_rows_cuts_a_location_partway():
    names = [("gmalloc",), ("zmalloc",), ("f",), ("[lib]",), ("zmalloc", "g"), ("main",), ("gmalloc",)]

    def trim(k: int, drop: int) -> int:
        names.append(names[k][drop:])
        return len(names) - 1

    rows = np.array([0, 1, 2, 5, 3, 0, 4, 5, 2, 5, 0, 6])
    starts = np.array([0, 4, 8, 10, 12])
    out, new_starts, cut = cut_rows(rows, starts, names, W, trim)
    assert cut.tolist() == [2, 3, 0, 0]
    assert new_starts.tolist() == [0, 2, 4, 6, 8]
    assert [names[k] for k in out.tolist()] == [("f",), ("main",), ("g",), ("main",), ("f",), ("main",),
                                                ("gmalloc",), ("gmalloc",)]


@pytest.mark.parametrize("totals,expected", [
    ([700, 2900, 5800, 400], 0.931),  # CPython's exit dump
    ([34365, 1109114, 1135287, 112884], None),  # a spike freed: the steady growth stays above the first dump
    ([100, 200, 150], None),  # fell by a quarter
    ([100, 50], None),  # two dumps are not a series to collapse
    ([500, 400, 100], None),  # it never grew
])
def test_collapse(totals, expected):
    got = collapse_of(totals)
    if expected is None:
        assert got is None
    else:
        assert got is not None and round(got.drop_fraction, 3) == expected
        assert got.before == totals[-2] and got.growth_before == totals[-2] - totals[0]

/* What heapviz's compiled parts share (heapviz/graph/_groupby.c, heapviz/report/_prefix.c):
 * the hash of a 64-bit key, and the check that a table's starts never decrease. */
#ifndef HEAPVIZ_COMPILED_H
#define HEAPVIZ_COMPILED_H

#include <Python.h>
#include <stdint.h>

static inline uint64_t key_hash(uint64_t x) {
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    return x ^ (x >> 29);
}

/* 1 when starts[0..n] never decrease; else 0 with "<who> starts must not decrease" raised. */
static inline int starts_ascend(const int64_t *st, Py_ssize_t n, const char *who) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (st[i + 1] < st[i]) {
            PyErr_Format(PyExc_ValueError, "%s starts must not decrease", who);
            return 0;
        }
    }
    return 1;
}

#endif

/* Grouping of 64-bit keys by hashing, for heapviz/graph/arrays.py: numpy groups by sorting,
 * which costs n log n and a binary search per key, where a hash table costs one probe.
 *
 * factorize(keys, inverse) numbers the distinct values of `keys` (a buffer of n 64-bit
 * integers) in order of first appearance, writes each key's number into `inverse` (a writable
 * buffer of n 64-bit integers) and returns (distinct values, first positions), both as bytes
 * of 64-bit integers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t key_hash(uint64_t x) {
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    return x ^ (x >> 29);
}

typedef struct {
    int64_t *slot; /* number + 1, 0 = empty */
    size_t mask;
    int64_t *values, *first;
    Py_ssize_t count, cap;
} Table;

static int table_grow(Table *t) {
    size_t size = (t->mask + 1) * 2;
    int64_t *slot = calloc(size, sizeof(int64_t));
    if (!slot) return -1;
    size_t mask = size - 1;
    for (Py_ssize_t k = 0; k < t->count; k++) {
        size_t i = key_hash((uint64_t)t->values[k]) & mask;
        while (slot[i]) i = (i + 1) & mask;
        slot[i] = k + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->mask = mask;
    return 0;
}

static int table_append(Table *t, int64_t value, Py_ssize_t pos) {
    if (t->count == t->cap) {
        Py_ssize_t cap = t->cap ? t->cap * 2 : 1024;
        int64_t *v = realloc(t->values, (size_t)cap * sizeof(int64_t));
        if (!v) return -1;
        t->values = v;
        int64_t *f = realloc(t->first, (size_t)cap * sizeof(int64_t));
        if (!f) return -1;
        t->first = f;
        t->cap = cap;
    }
    t->values[t->count] = value;
    t->first[t->count] = pos;
    t->count++;
    return 0;
}

static PyObject *factorize(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer keys, inverse;
    if (!PyArg_ParseTuple(args, "y*w*", &keys, &inverse)) return NULL;
    PyObject *result = NULL;
    Table t = {0};
    if (keys.len % 8 || inverse.len != keys.len) {
        PyErr_SetString(PyExc_ValueError, "factorize needs n 64-bit keys and room for n 64-bit numbers");
        goto done;
    }
    Py_ssize_t n = keys.len / 8;
    const int64_t *x = keys.buf;
    int64_t *inv = inverse.buf;
    t.mask = 1023;
    t.slot = calloc(t.mask + 1, sizeof(int64_t));
    if (!t.slot) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < n; k++) {
        int64_t v = x[k];
        size_t i = key_hash((uint64_t)v) & t.mask;
        int64_t s;
        while ((s = t.slot[i]) != 0 && t.values[s - 1] != v) i = (i + 1) & t.mask;
        if (s) {
            inv[k] = s - 1;
            continue;
        }
        if (table_append(&t, v, k) < 0) {
            n = -1;
            break;
        }
        inv[k] = t.count - 1;
        if ((size_t)t.count * 2 > t.mask + 1) {
            if (table_grow(&t) < 0) {
                n = -1;
                break;
            }
        } else {
            t.slot[i] = t.count;
        }
    }
    Py_END_ALLOW_THREADS
    if (n < 0) {
        PyErr_NoMemory();
        goto done;
    }
    /* PyBytes_FromStringAndSize, not "y#": with no keys the arrays are NULL, which "y#" makes None */
    result = Py_BuildValue("NN", PyBytes_FromStringAndSize((const char *)t.values, t.count * (Py_ssize_t)sizeof(int64_t)),
                           PyBytes_FromStringAndSize((const char *)t.first, t.count * (Py_ssize_t)sizeof(int64_t)));
done:
    free(t.slot);
    free(t.values);
    free(t.first);
    PyBuffer_Release(&keys);
    PyBuffer_Release(&inverse);
    return result;
}

/* factorize_rows(values, starts, inverse) -> first rows: rows values[starts[r]:starts[r + 1]]
 * (64-bit integers; starts has one entry more than there are rows) numbered in order of first
 * appearance; each row's number goes into inverse, and the first row of each number is returned
 * (bytes of 64-bit integers). */
static PyObject *factorize_rows(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer values, starts, inverse;
    if (!PyArg_ParseTuple(args, "y*y*w*", &values, &starts, &inverse)) return NULL;
    PyObject *result = NULL;
    int64_t *slot = NULL, *first = NULL;
    uint64_t *hashes = NULL;
    Py_ssize_t rows = starts.len / 8 - 1, count = 0;
    const int64_t *v = values.buf, *st = starts.buf;
    int64_t *inv = inverse.buf;
    if (values.len % 8 || starts.len % 8 || rows < 0 || inverse.len != rows * 8 ||
        (rows > 0 && (st[0] < 0 || st[rows] > values.len / 8))) {
        PyErr_SetString(PyExc_ValueError, "factorize_rows needs 64-bit values, row starts within them, "
                                          "and room for a number per row");
        goto done;
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        if (st[r + 1] < st[r]) {
            PyErr_SetString(PyExc_ValueError, "row starts must not decrease");
            goto done;
        }
    }
    size_t size = 1024;
    while (size < (size_t)rows * 2) size *= 2;
    size_t mask = size - 1;
    slot = calloc(size, sizeof(int64_t));
    first = malloc((size_t)(rows ? rows : 1) * sizeof(int64_t));
    hashes = malloc((size_t)(rows ? rows : 1) * sizeof(uint64_t));
    if (!slot || !first || !hashes) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < rows; r++) {
        const int64_t *row = v + st[r];
        Py_ssize_t n = st[r + 1] - st[r];
        uint64_t h = 0x84222325cbf29ce4ULL ^ (uint64_t)n;
        for (Py_ssize_t k = 0; k < n; k++) h = (h ^ (uint64_t)row[k]) * 0x100000001b3ULL;
        h = key_hash(h);
        size_t i = h & mask;
        int64_t s;
        for (; (s = slot[i]) != 0; i = (i + 1) & mask) {
            Py_ssize_t g = s - 1, fr = first[g];
            if (hashes[g] == h && st[fr + 1] - st[fr] == n &&
                memcmp(v + st[fr], row, (size_t)n * sizeof(int64_t)) == 0)
                break;
        }
        if (s) {
            inv[r] = s - 1;
        } else {
            first[count] = r;
            hashes[count] = h;
            slot[i] = ++count; /* the table has room for every row: no growing */
            inv[r] = count - 1;
        }
    }
    Py_END_ALLOW_THREADS
    result = PyBytes_FromStringAndSize((const char *)first, count * (Py_ssize_t)sizeof(int64_t));
done:
    free(slot);
    free(first);
    free(hashes);
    PyBuffer_Release(&values);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&inverse);
    return result;
}

static PyMethodDef methods[] = {
    {"factorize", factorize, METH_VARARGS,
     "factorize(keys, inverse) -> (distinct values, first positions): numbers the distinct 64-bit keys in\n"
     "order of first appearance and writes each key's number into inverse."},
    {"factorize_rows", factorize_rows, METH_VARARGS,
     "factorize_rows(values, starts, inverse) -> first rows: numbers the distinct rows\n"
     "values[starts[r]:starts[r + 1]] in order of first appearance, each row's number into inverse."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_groupby", "Grouping of 64-bit keys by hashing (see heapviz/graph/arrays.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__groupby(void) { return PyModule_Create(&module); }

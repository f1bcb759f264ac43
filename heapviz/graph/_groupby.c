/* Grouping of 64-bit keys by hashing, for heapviz/graph/arrays.py: numpy groups by sorting,
 * which costs n log n and a binary search per key, where a hash table costs one probe.
 *
 * factorize(keys, inverse) numbers the distinct values of `keys` (a buffer of n 64-bit
 * integers) in order of first appearance, writes each key's number into `inverse` (a writable
 * buffer of n 64-bit integers) and returns (distinct values, first positions), both as bytes
 * of 64-bit integers.
 *
 * stack_pass(...) is the stack table's sums pass (heapviz/graph/stacks.py) in one walk over the
 * frames: what numpy does there by sorting (each node and each edge once per sample) is a stamp
 * per node and per edge here, and edges are numbered by a hash table.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../_compiled.h"

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
 * (64-bit integers; 32-bit ones for factorize_rows32; starts has one entry more than there are
 * rows) numbered in order of first appearance; each row's number goes into inverse, and the first
 * row of each number is returned (bytes of 64-bit integers). */
#define FACTORIZE_ROWS(NAME, T) \
static PyObject *NAME(PyObject *Py_UNUSED(module), PyObject *args) { \
    Py_buffer values, starts, inverse; \
    if (!PyArg_ParseTuple(args, "y*y*w*", &values, &starts, &inverse)) return NULL; \
    PyObject *result = NULL; \
    int64_t *slot = NULL, *first = NULL; \
    uint64_t *hashes = NULL; \
    Py_ssize_t rows = starts.len / 8 - 1, count = 0; \
    const T *v = values.buf; \
    const int64_t *st = starts.buf; \
    int64_t *inv = inverse.buf; \
    if (values.len % (Py_ssize_t)sizeof(T) || starts.len % 8 || rows < 0 || inverse.len != rows * 8 || \
        (rows > 0 && (st[0] < 0 || st[rows] > values.len / (Py_ssize_t)sizeof(T)))) { \
        PyErr_SetString(PyExc_ValueError, "factorize_rows needs values of its width, row starts within " \
                                          "them, and room for a number per row"); \
        goto done; \
    } \
    if (!starts_ascend(st, rows, "row")) goto done; \
    size_t size = 1024; \
    while (size < (size_t)rows * 2) size *= 2; \
    size_t mask = size - 1; \
    slot = calloc(size, sizeof(int64_t)); \
    first = malloc((size_t)(rows ? rows : 1) * sizeof(int64_t)); \
    hashes = malloc((size_t)(rows ? rows : 1) * sizeof(uint64_t)); \
    if (!slot || !first || !hashes) { \
        PyErr_NoMemory(); \
        goto done; \
    } \
    Py_BEGIN_ALLOW_THREADS \
    for (Py_ssize_t r = 0; r < rows; r++) { \
        const T *row = v + st[r]; \
        Py_ssize_t n = st[r + 1] - st[r]; \
        uint64_t h = 0x84222325cbf29ce4ULL ^ (uint64_t)n; \
        for (Py_ssize_t k = 0; k < n; k++) h = (h ^ (uint64_t)(int64_t)row[k]) * 0x100000001b3ULL; \
        h = key_hash(h); \
        size_t i = h & mask; \
        int64_t s; \
        for (; (s = slot[i]) != 0; i = (i + 1) & mask) { \
            Py_ssize_t g = s - 1, fr = first[g]; \
            if (hashes[g] == h && st[fr + 1] - st[fr] == n && \
                memcmp(v + st[fr], row, (size_t)n * sizeof(T)) == 0) \
                break; \
        } \
        if (s) { \
            inv[r] = s - 1; \
        } else { \
            first[count] = r; \
            hashes[count] = h; \
            slot[i] = ++count; /* the table has room for every row: no growing */ \
            inv[r] = count - 1; \
        } \
    } \
    Py_END_ALLOW_THREADS \
    result = PyBytes_FromStringAndSize((const char *)first, count * (Py_ssize_t)sizeof(int64_t)); \
done: \
    free(slot); \
    free(first); \
    free(hashes); \
    PyBuffer_Release(&values); \
    PyBuffer_Release(&starts); \
    PyBuffer_Release(&inverse); \
    return result; \
}

FACTORIZE_ROWS(factorize_rows, int64_t)
FACTORIZE_ROWS(factorize_rows32, int32_t)

static int grow_u8(uint8_t **a, Py_ssize_t *cap, Py_ssize_t need) {
    if (need <= *cap) return 0;
    Py_ssize_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    uint8_t *p = realloc(*a, (size_t)c);
    if (!p) return -1;
    memset(p + *cap, 0, (size_t)(c - *cap));
    *a = p;
    *cap = c;
    return 0;
}

static PyObject *bytes_of(const void *p, Py_ssize_t n) {
    return PyBytes_FromStringAndSize(n ? (const char *)p : "", n);
}

/* One edge's slot in stack_pass's hash table: everything a frame touches in one place (a million
 * edges do not stay in cache): its key, number, stamp (the last sample that counted it), flags
 * and its first sum; the other k - 1 sums are in a separate array, by number. */
typedef struct {
    int64_t key;
    int32_t num; /* edge + 1, 0 = empty */
    int32_t stamp;
    union { int64_t i; double f; } sum0;
    uint8_t residual, direct_first, direct_all, pad[5];
} EdgeSlot;

#define PREFETCH 10 /* frames ahead */

static EdgeSlot *grow_slots(EdgeSlot *slot, size_t *mask) {
    size_t size = (*mask + 1) * 2, m = size - 1;
    EdgeSlot *grown = calloc(size, sizeof(EdgeSlot));
    if (!grown) return NULL;
    for (size_t j = 0; j <= *mask; j++) {
        if (!slot[j].num) continue;
        size_t g = key_hash((uint64_t)slot[j].key) & m;
        while (grown[g].num) g = (g + 1) & m;
        grown[g] = slot[j];
    }
    free(slot);
    *mask = m;
    return grown;
}

/* The arguments stack_pass and node_pass share, checked: 1 if they fit together, else 0 with a
 * ValueError naming `who`. */
static int pass_args_ok(const char *who, const Py_buffer *ids, const Py_buffer *starts, const Py_buffer *active,
                        const Py_buffer *inl, Py_ssize_t n_nodes, const Py_buffer *weights, Py_ssize_t k,
                        const Py_buffer *cum) {
    Py_ssize_t frames = ids->len / 4, samples = starts->len / 8 - 1;
    const int32_t *node = ids->buf;
    const int64_t *st = starts->buf;
    if (ids->len % 4 || starts->len % 8 || samples < 0 || active->len != samples || inl->len != frames ||
        n_nodes <= 0 || k <= 0 || weights->len != samples * k * 8 || cum->len != n_nodes * k * 8 ||
        (samples > 0 && (st[0] < 0 || st[samples] > frames)) || samples >= INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "%s: arrays of mismatched sizes", who);
        return 0;
    }
    for (Py_ssize_t f = 0; f < frames; f++) {
        if (node[f] < 0 || node[f] >= n_nodes) {
            PyErr_Format(PyExc_ValueError, "%s: node id out of range", who);
            return 0;
        }
    }
    char what[64];
    PyOS_snprintf(what, sizeof what, "%s: sample", who);
    return starts_ascend(st, samples, what);
}

/* Sample i's k weights added to node v's cum, once per sample (the stamp). */
static inline void count_once(int32_t *node_stamp, int32_t v, Py_ssize_t i, Py_ssize_t k, int floats,
                              const int64_t *wi, const double *wf, int64_t *ci, double *cf) {
    if (node_stamp[v] == (int32_t)i) return;
    node_stamp[v] = (int32_t)i;
    if (floats)
        for (Py_ssize_t j = 0; j < k; j++) cf[v * k + j] += wf[i * k + j];
    else
        for (Py_ssize_t j = 0; j < k; j++) ci[v * k + j] = (int64_t)((uint64_t)ci[v * k + j] + (uint64_t)wi[i * k + j]);
}

/* stack_pass(ids, starts, active, kept, inline, n_nodes, weights, k, floats, cum, ke)
 * -> (edge_key, edge_first, edge_sums, residual, direct_first, direct_all, counted).
 *
 * ids: int32 node id per frame; starts: int64, sample i's frames are starts[i]:starts[i + 1], root
 * first; active: one byte per sample (0: skipped); kept: one byte per node (empty: all kept);
 * inline: one byte per frame; weights: k values per sample (row-major), int64 or, with `floats`,
 * float64; cum: room for k sums per node, of the same type, added to. Frames of a skipped node
 * are left out, and make the next edge residual. Each node counts once per sample into cum.
 * Returned as bytes: edge_key (int64, parent * n_nodes + child) and edge_first (int64, the child
 * frame where the edge first appears), the edges numbered in order of first appearance (no self
 * edges); edge_sums, ke sums per edge (of the first ke of the k weights: 1 <= ke <= k), each edge
 * once per sample; and one byte per edge each: residual (at a first occurrence in a sample, the
 * frames were not adjacent), direct_first (at a first occurrence, the child frame was not inlined)
 * and direct_all (at any occurrence); and one byte per node, counted: some frame of it was counted
 * (a kept node in an active sample). Sums run in sample order: the additions a loop over the
 * samples makes, in the same order. An optional last argument, record (one byte per node), keeps
 * only the edges with an end among those nodes (the others are not hashed at all): the same
 * edges, sums and flags as without it, fewer of them. */
static PyObject *stack_pass(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer ids, starts, active, kept, inl, weights, cum, record = {0};
    Py_ssize_t n_nodes, k, ke;
    int floats;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*ny*npw*n|y*", &ids, &starts, &active, &kept, &inl, &n_nodes, &weights, &k,
                          &floats, &cum, &ke, &record))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t frames = ids.len / 4, samples = starts.len / 8 - 1;
    const int32_t *node = ids.buf;
    const int64_t *st = starts.buf;
    const uint8_t *act = active.buf, *keep = kept.len ? kept.buf : NULL, *in = inl.buf;
    const uint8_t *rec = record.len ? record.buf : NULL;
    int32_t *node_stamp = NULL;
    uint8_t *esum = NULL, *rest = NULL, *residual = NULL, *dfirst = NULL, *dall = NULL, *counted = NULL;
    Py_ssize_t rest_cap = 0;
    EdgeSlot *slot = NULL;
    size_t mask = 1023;
    Table t = {0}; /* the edges' keys and first frames, in order of appearance */
    int failed = 0;
    if (!pass_args_ok("stack_pass", &ids, &starts, &active, &inl, n_nodes, &weights, k, &cum)) goto done;
    if ((kept.len && kept.len != n_nodes) || (record.len && record.len != n_nodes) || ke <= 0 || ke > k) {
        PyErr_SetString(PyExc_ValueError, "stack_pass: arrays of mismatched sizes");
        goto done;
    }
    node_stamp = malloc((size_t)n_nodes * sizeof(int32_t));
    slot = calloc(mask + 1, sizeof(EdgeSlot));
    if (!node_stamp || !slot) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < n_nodes; j++) node_stamp[j] = -1;
    const int64_t *wi = weights.buf;
    const double *wf = weights.buf;
    int64_t *ci = cum.buf;
    double *cf = cum.buf;
    Py_ssize_t k1 = ke - 1; /* sums per edge outside its slot */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < samples && !failed; i++) {
        if (!act[i]) continue;
        int32_t s = (int32_t)i;
        Py_ssize_t prev = -1;
        for (Py_ssize_t f = st[i]; f < st[i + 1]; f++) {
            int32_t v = node[f];
            if (f + PREFETCH < frames) {
                /* the slot of an edge a few frames ahead (a guess across samples and skipped
                 * nodes, where a wasted prefetch costs nothing): the table is far out of cache */
                int64_t ahead = (int64_t)node[f + PREFETCH - 1] * n_nodes + node[f + PREFETCH];
                __builtin_prefetch(&slot[key_hash((uint64_t)ahead) & mask]);
            }
            if (keep && !keep[v]) continue;
            count_once(node_stamp, v, i, k, floats, wi, wf, ci, cf);
            if (prev >= 0 && node[prev] != v && (!rec || rec[node[prev]] || rec[v])) {
                int64_t key = (int64_t)node[prev] * n_nodes + v;
                size_t h = key_hash((uint64_t)key) & mask;
                while (slot[h].num != 0 && slot[h].key != key) h = (h + 1) & mask;
                EdgeSlot *es = &slot[h];
                if (!es->num) {
                    if (table_append(&t, key, f) < 0 || t.count >= INT32_MAX) {
                        failed = 1;
                        break;
                    }
                    es->key = key;
                    es->num = (int32_t)t.count;
                    es->stamp = -1;
                    if (k1 && grow_u8(&rest, &rest_cap, t.count * k1 * 8) < 0) {
                        failed = 1;
                        break;
                    }
                    if ((size_t)t.count * 2 > mask + 1) {
                        EdgeSlot *grown = grow_slots(slot, &mask);
                        if (!grown) {
                            failed = 1;
                            break;
                        }
                        slot = grown;
                        h = key_hash((uint64_t)key) & mask;
                        while (slot[h].key != key || !slot[h].num) h = (h + 1) & mask;
                        es = &slot[h];
                    }
                }
                uint8_t direct = !in[f];
                if (es->stamp != s) {
                    es->stamp = s;
                    Py_ssize_t e = es->num - 1;
                    if (floats) {
                        es->sum0.f += wf[i * k];
                        double *rs = (double *)rest;
                        for (Py_ssize_t j = 1; j < ke; j++) rs[e * k1 + j - 1] += wf[i * k + j];
                    } else {
                        es->sum0.i = (int64_t)((uint64_t)es->sum0.i + (uint64_t)wi[i * k]);
                        int64_t *rs = (int64_t *)rest;
                        for (Py_ssize_t j = 1; j < ke; j++)
                            rs[e * k1 + j - 1] = (int64_t)((uint64_t)rs[e * k1 + j - 1] + (uint64_t)wi[i * k + j]);
                    }
                    if (f - prev > 1) es->residual = 1;
                    if (direct) es->direct_first = 1;
                }
                if (direct) es->direct_all = 1;
            }
            prev = f;
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t n_edges = t.count, size = n_edges ? n_edges : 1;
    residual = malloc((size_t)size);
    dfirst = malloc((size_t)size);
    dall = malloc((size_t)size);
    esum = malloc((size_t)size * ke * 8);
    counted = malloc((size_t)n_nodes);
    if (!residual || !dfirst || !dall || !esum || !counted) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t j = 0; j <= mask; j++) {
        const EdgeSlot *es = &slot[j];
        if (!es->num) continue;
        Py_ssize_t e = es->num - 1;
        residual[e] = es->residual;
        dfirst[e] = es->direct_first;
        dall[e] = es->direct_all;
        memcpy(esum + e * ke * 8, &es->sum0, 8);
    }
    for (Py_ssize_t e = 0; e < n_edges && k1; e++) memcpy(esum + (e * ke + 1) * 8, rest + e * k1 * 8, (size_t)k1 * 8);
    for (Py_ssize_t j = 0; j < n_nodes; j++) counted[j] = node_stamp[j] >= 0;
    result = Py_BuildValue("NNNNNNN", bytes_of(t.values, n_edges * 8), bytes_of(t.first, n_edges * 8),
                           bytes_of(esum, n_edges * ke * 8), bytes_of(residual, n_edges), bytes_of(dfirst, n_edges),
                           bytes_of(dall, n_edges), bytes_of(counted, n_nodes));
done:
    free(node_stamp);
    free(counted);
    free(slot);
    free(rest);
    free(residual);
    free(dfirst);
    free(dall);
    free(esum);
    free(t.slot);
    free(t.values);
    free(t.first);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&active);
    PyBuffer_Release(&kept);
    PyBuffer_Release(&inl);
    PyBuffer_Release(&weights);
    PyBuffer_Release(&cum);
    if (record.obj) PyBuffer_Release(&record);
    return result;
}

/* The number of `key` in t, inserting it (with `pos`) if new: -1 on no memory. */
static Py_ssize_t table_find_add(Table *t, int64_t key, Py_ssize_t pos) {
    size_t i = key_hash((uint64_t)key) & t->mask;
    int64_t s;
    while ((s = t->slot[i]) != 0 && t->values[s - 1] != key) i = (i + 1) & t->mask;
    if (s) return s - 1;
    if (table_append(t, key, pos) < 0) return -1;
    if ((size_t)t->count * 2 > t->mask + 1) {
        if (table_grow(t) < 0) return -1;
    } else {
        t->slot[i] = t->count;
    }
    return t->count - 1;
}

/* The number of `key` in t, or -1. */
static Py_ssize_t table_find(const Table *t, int64_t key) {
    size_t i = key_hash((uint64_t)key) & t->mask;
    int64_t s;
    while ((s = t->slot[i]) != 0 && t->values[s - 1] != key) i = (i + 1) & t->mask;
    return s - 1;
}

/* node_pass(ids, starts, active, inline, n_nodes, weights, k, floats, cum) -> (counted, callee_state)
 *
 * stack_pass's node sums without its edges, for the untrimmed graph's nodes (every node kept): a
 * recursive program's profile has a million distinct edges, and the report's tables need only
 * each node's cum (added to `cum` as stack_pass adds it) and how it is called. Returned as bytes,
 * one per node: counted (some frame of it was counted) and callee_state, the edges into the node
 * as NodeTable.callee_inline reads stack_pass's (flags at every occurrence): 2 if one of them was
 * ever called directly (a child frame not inlined), | 1 if one of them only ever was inlined.
 * Edges with an inlined occurrence are few: they are kept in a table, and a second walk looks
 * for direct occurrences of those. */
static PyObject *node_pass(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer ids, starts, active, inl, weights, cum;
    Py_ssize_t n_nodes, k;
    int floats;
    if (!PyArg_ParseTuple(args, "y*y*y*y*ny*npw*", &ids, &starts, &active, &inl, &n_nodes, &weights, &k, &floats,
                          &cum))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t samples = starts.len / 8 - 1;
    const int32_t *node = ids.buf;
    const int64_t *st = starts.buf;
    const uint8_t *act = active.buf, *in = inl.buf;
    int32_t *node_stamp = NULL;
    uint8_t *state = NULL, *counted = NULL, *has_direct = NULL;
    Table t = {0}; /* the edges with an inlined occurrence */
    int failed = 0;
    if (!pass_args_ok("node_pass", &ids, &starts, &active, &inl, n_nodes, &weights, k, &cum)) goto done;
    node_stamp = malloc((size_t)n_nodes * sizeof(int32_t));
    state = calloc((size_t)n_nodes, 1);
    counted = malloc((size_t)n_nodes);
    t.mask = 1023;
    t.slot = calloc(t.mask + 1, sizeof(int64_t));
    if (!node_stamp || !state || !counted || !t.slot) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < n_nodes; j++) node_stamp[j] = -1;
    const int64_t *wi = weights.buf;
    const double *wf = weights.buf;
    int64_t *ci = cum.buf;
    double *cf = cum.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < samples && !failed; i++) {
        if (!act[i]) continue;
        for (Py_ssize_t f = st[i]; f < st[i + 1]; f++) {
            int32_t v = node[f];
            count_once(node_stamp, v, i, k, floats, wi, wf, ci, cf);
            if (f == st[i] || node[f - 1] == v) continue; /* no edge: a root frame, or a self edge */
            if (!in[f])
                state[v] |= 2;
            else if (table_find_add(&t, (int64_t)node[f - 1] * n_nodes + v, f) < 0)
                failed = 1;
        }
    }
    if (!failed && t.count) {
        has_direct = calloc((size_t)t.count, 1);
        if (!has_direct) failed = 1;
    }
    for (Py_ssize_t i = 0; i < samples && !failed && t.count; i++) {
        if (!act[i]) continue;
        for (Py_ssize_t f = st[i] + 1; f < st[i + 1]; f++) {
            if (in[f] || node[f - 1] == node[f]) continue;
            Py_ssize_t e = table_find(&t, (int64_t)node[f - 1] * n_nodes + node[f]);
            if (e >= 0) has_direct[e] = 1;
        }
    }
    for (Py_ssize_t e = 0; e < t.count && !failed; e++)
        if (!has_direct[e]) state[t.values[e] % n_nodes] |= 1;
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < n_nodes; j++) counted[j] = node_stamp[j] >= 0;
    result = Py_BuildValue("NN", bytes_of(counted, n_nodes), bytes_of(state, n_nodes));
done:
    free(node_stamp);
    free(state);
    free(counted);
    free(has_direct);
    free(t.slot);
    free(t.values);
    free(t.first);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&active);
    PyBuffer_Release(&inl);
    PyBuffer_Release(&weights);
    PyBuffer_Release(&cum);
    return result;
}

/* once_sums(ids, starts, weights, floats, sums): for each sample i (ids[starts[i]:starts[i + 1]],
 * 32-bit), weights[i] (int64, or float64 with `floats`) is added once to sums[id] (same type) for
 * every distinct id >= 0 among its ids, in sample order: each sample counts once per id, as a
 * loop over the samples would add. ids < 0 are skipped. */
static PyObject *once_sums(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer ids, starts, weights, sums;
    int floats;
    if (!PyArg_ParseTuple(args, "y*y*y*pw*", &ids, &starts, &weights, &floats, &sums)) return NULL;
    PyObject *result = NULL;
    int32_t *stamp = NULL;
    Py_ssize_t frames = ids.len / 4, samples = starts.len / 8 - 1, n = sums.len / 8;
    const int32_t *id = ids.buf;
    const int64_t *st = starts.buf;
    if (ids.len % 4 || starts.len % 8 || sums.len % 8 || samples < 0 || samples >= INT32_MAX ||
        weights.len != samples * 8 || (samples > 0 && (st[0] < 0 || st[samples] > frames))) {
        PyErr_SetString(PyExc_ValueError, "once_sums: arrays of mismatched sizes");
        goto done;
    }
    for (Py_ssize_t f = 0; f < frames; f++) {
        if (id[f] >= n) {
            PyErr_SetString(PyExc_ValueError, "once_sums: id out of range");
            goto done;
        }
    }
    if (!starts_ascend(st, samples, "once_sums: sample")) goto done;
    stamp = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    if (!stamp) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < n; j++) stamp[j] = -1;
    const int64_t *wi = weights.buf;
    const double *wf = weights.buf;
    int64_t *si = sums.buf;
    double *sf = sums.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < samples; i++) {
        for (Py_ssize_t f = st[i]; f < st[i + 1]; f++) {
            int32_t v = id[f];
            if (v < 0 || stamp[v] == (int32_t)i) continue;
            stamp[v] = (int32_t)i;
            if (floats)
                sf[v] += wf[i];
            else
                si[v] = (int64_t)((uint64_t)si[v] + (uint64_t)wi[i]);
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(stamp);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&weights);
    PyBuffer_Release(&sums);
    return result;
}

static PyMethodDef methods[] = {
    {"factorize", factorize, METH_VARARGS,
     "factorize(keys, inverse) -> (distinct values, first positions): numbers the distinct 64-bit keys in\n"
     "order of first appearance and writes each key's number into inverse."},
    {"factorize_rows", factorize_rows, METH_VARARGS,
     "factorize_rows(values, starts, inverse) -> first rows: numbers the distinct rows\n"
     "values[starts[r]:starts[r + 1]] in order of first appearance, each row's number into inverse."},
    {"factorize_rows32", factorize_rows32, METH_VARARGS,
     "factorize_rows32(values, starts, inverse) -> first rows: factorize_rows of 32-bit values."},
    {"once_sums", once_sums, METH_VARARGS,
     "once_sums(ids, starts, weights, floats, sums): each sample's weight added once per distinct id."},
    {"node_pass", node_pass, METH_VARARGS,
     "node_pass(ids, starts, active, inline, n_nodes, weights, k, floats, cum) -> (counted, callee_state):\n"
     "stack_pass's node sums without edges, for every node (see the source)."},
    {"stack_pass", stack_pass, METH_VARARGS,
     "stack_pass(ids, starts, active, kept, inline, n_nodes, weights, k, floats, cum, ke[, record])\n"
     "-> the stack table's sums pass (see the source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_groupby", "Grouping of 64-bit keys by hashing (see heapviz/graph/arrays.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__groupby(void) { return PyModule_Create(&module); }

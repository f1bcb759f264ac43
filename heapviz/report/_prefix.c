/* The HTML explorer's prefix tree of the samples' stacks, its transitions and trimming's cut
 * order (heapviz/report/explorer_data.py, explorer_pack.py): counting sorts and stamps where the
 * numpy versions, kept there as the fallback and the reference, sort every node's key.
 *
 * prefix_tree(loc_index, starts, n_locations, parent, location, leaf) -> [level starts]
 *
 *   loc_index   32-bit location indices, each sample's run leaf first (SampleTable.loc_index)
 *   starts      n + 1 64-bit offsets of the n samples' runs, ascending
 *   parent, location
 *               writable 32-bit outputs with room for one node per frame (the tree has at most
 *               as many nodes as the table has frames); node j is location[j] called from node
 *               parent[j] (-1: a root frame)
 *   leaf        writable 32-bit output, n entries: each sample's leaf node (-1: no frames)
 *
 * The result lists where each depth's nodes start, then the node count. Nodes are numbered depth
 * by depth, and within a depth by (parent, location) ascending: exactly np.unique of the keys
 * (parent + 1) * n_locations + location, depth by depth, which the numpy version does.
 *
 * The samples that reach a depth are kept sorted by their node at the depth before (a counting
 * sort per depth), so the samples under one parent are one run: its children are the distinct
 * locations of the run (a stamp per location), sorted, numbered in order.
 *
 * transitions(parent, location, n_locations, code) -> (counts, children) is explorer_pack's
 * transitions: node i's location as its rank `code[i]` (written, n 32-bit) among the locations
 * seen under its parent's location, the most frequent first (then by location). `counts` has the
 * number of distinct child locations per parent slot (0: root frames, p + 1: location p), and
 * `children` those locations slot by slot in rank order, both as bytes of 32-bit integers. The
 * nodes are put in buckets by slot (a counting sort); each bucket is counted, ranked and coded on
 * its own, so beside the output it holds one 32-bit entry per node.
 *
 * cut_order(parent, leaf, weights, levels, order) -> count is explorer_data's _cut_order: the
 * tree's nodes but its root frames, lightest first by the weight of the samples below them, the
 * last numbered first among equals, written into `order` (n 32-bit). The weights below are summed
 * in numpy's order (np.bincount over the samples, then np.add.at level by level from the deepest),
 * so the sums are the same doubles; then the nodes are ranked by their distinct sums (a hash
 * table: real trees have few) and placed by a counting sort, where numpy sorted 64-bit floats. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../_compiled.h"

static int by_value(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static PyObject *prefix_tree(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer locs, starts, parent_out, location_out, leaf_out;
    Py_ssize_t n_locs;
    if (!PyArg_ParseTuple(args, "y*y*nw*w*w*", &locs, &starts, &n_locs, &parent_out, &location_out, &leaf_out))
        return NULL;
    PyObject *result = NULL;
    int32_t *perm = NULL, *next = NULL, *node = NULL, *here = NULL, *reach = NULL, *distinct = NULL, *number = NULL;
    int64_t *stamp = NULL;
    Py_ssize_t *count = NULL, *level_starts = NULL;
    Py_ssize_t n = starts.len / 8 - 1, frames = locs.len / 4, cap = parent_out.len / 4, levels = 0, nodes = 0;
    const int32_t *loc = locs.buf;
    const int64_t *st = starts.buf;
    int32_t *parent = parent_out.buf, *location = location_out.buf, *leaf = leaf_out.buf;
    if (locs.len % 4 || starts.len % 8 || n < 0 || n >= INT32_MAX || n_locs < 0 || n_locs >= INT32_MAX ||
        location_out.len != parent_out.len || parent_out.len % 4 || leaf_out.len != n * 4 || cap < frames ||
        frames >= INT32_MAX || (n > 0 && (st[0] < 0 || st[n] > frames))) {
        PyErr_SetString(PyExc_ValueError, "prefix_tree: arrays of mismatched sizes");
        goto done;
    }
    if (!starts_ascend(st, n, "prefix_tree: sample")) goto done;
    for (Py_ssize_t f = 0; f < frames; f++) {
        if (loc[f] < 0 || loc[f] >= n_locs) {
            PyErr_SetString(PyExc_ValueError, "prefix_tree: location index out of range");
            goto done;
        }
    }
    size_t some = (size_t)(n ? n : 1);
    perm = malloc(some * sizeof(int32_t));      /* the samples that reach this depth, by node before */
    next = malloc(some * sizeof(int32_t));      /* the same, sorted by their node at this depth */
    node = malloc(some * sizeof(int32_t));      /* each sample's node at the depth before */
    here = malloc(some * sizeof(int32_t));      /* each sample's location at this depth */
    reach = malloc(some * sizeof(int32_t));     /* the samples that reach this depth, in order */
    distinct = malloc(some * sizeof(int32_t));  /* one parent's child locations */
    count = malloc((some + 1) * sizeof(Py_ssize_t));
    stamp = malloc((size_t)(n_locs ? n_locs : 1) * sizeof(int64_t));
    number = malloc((size_t)(n_locs ? n_locs : 1) * sizeof(int32_t));
    Py_ssize_t max_depth = 0;
    for (Py_ssize_t i = 0; i < n; i++) max_depth = st[i + 1] - st[i] > max_depth ? st[i + 1] - st[i] : max_depth;
    level_starts = malloc((size_t)(max_depth + 1) * sizeof(Py_ssize_t));
    if (!perm || !next || !node || !here || !reach || !distinct || !count || !stamp || !number || !level_starts) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t m = 0, group = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        node[i] = -1;
        leaf[i] = -1;
        if (st[i + 1] > st[i]) {
            perm[m] = reach[m] = (int32_t)i;
            m++;
        }
    }
    for (Py_ssize_t k = 0; k < n_locs; k++) stamp[k] = -1;
    level_starts[levels++] = 0;
    for (Py_ssize_t depth = 0; m > 0; depth++) {
        Py_ssize_t first = nodes;
        /* the locations at this depth, root first (from each run's end), gathered in sample order:
         * reading the table in the samples' sorted order instead misses the cache on every read;
         * the samples that go deeper stay in `reach` (so a few deep stacks cost only their own) */
        Py_ssize_t deeper_in_order = 0;
        for (Py_ssize_t t = 0; t < m; t++) {
            int32_t s = reach[t];
            here[s] = loc[st[s + 1] - 1 - depth];
            if (st[s + 1] - st[s] > depth + 1) reach[deeper_in_order++] = s;
        }
        for (Py_ssize_t i = 0; i < m;) {  /* one run of samples under one parent */
            int32_t up = node[perm[i]];
            Py_ssize_t j = i, nd = 0;
            for (; j < m && node[perm[j]] == up; j++) {
                int32_t l = here[perm[j]];
                if (stamp[l] != group) {
                    stamp[l] = group;
                    distinct[nd++] = l;
                }
            }
            qsort(distinct, (size_t)nd, sizeof(int32_t), by_value);
            for (Py_ssize_t k = 0; k < nd; k++) {
                number[distinct[k]] = (int32_t)(nodes + k);
                parent[nodes + k] = up;
                location[nodes + k] = distinct[k];
            }
            for (Py_ssize_t t = i; t < j; t++) {  /* the run's samples move to their nodes here */
                int32_t s = perm[t];
                node[s] = number[here[s]];
            }
            nodes += nd;
            group++;
            i = j;
        }
        /* the samples that go deeper, sorted by their node at this depth (stable), for the next */
        Py_ssize_t width = nodes - first, deeper = 0;
        memset(count, 0, (size_t)(width + 1) * sizeof(Py_ssize_t));
        for (Py_ssize_t t = 0; t < m; t++) {
            int32_t s = perm[t];
            if (st[s + 1] - st[s] == depth + 1)
                leaf[s] = node[s];
            else
                count[node[s] - first + 1]++;
        }
        for (Py_ssize_t k = 0; k < width; k++) count[k + 1] += count[k];
        for (Py_ssize_t t = 0; t < m; t++) {
            int32_t s = perm[t];
            if (st[s + 1] - st[s] > depth + 1) {
                next[count[node[s] - first]++] = s;
                deeper++;
            }
        }
        int32_t *swap = perm;
        perm = next;
        next = swap;
        m = deeper;
        level_starts[levels++] = nodes;
    }
    Py_END_ALLOW_THREADS
    result = PyList_New(levels);
    for (Py_ssize_t k = 0; result && k < levels; k++) {
        PyObject *v = PyLong_FromSsize_t(level_starts[k]);
        if (!v) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, k, v);
    }
done:
    free(perm);
    free(next);
    free(node);
    free(here);
    free(reach);
    free(distinct);
    free(count);
    free(stamp);
    free(number);
    free(level_starts);
    PyBuffer_Release(&locs);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&parent_out);
    PyBuffer_Release(&location_out);
    PyBuffer_Release(&leaf_out);
    return result;
}

typedef struct {
    int32_t count, location;
} Child;

static int by_count_then_location(const void *a, const void *b) {
    const Child *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->location > y->location) - (x->location < y->location);
}

static PyObject *transitions(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer parents, locations, code_out;
    Py_ssize_t n_locs;
    if (!PyArg_ParseTuple(args, "y*y*nw*", &parents, &locations, &n_locs, &code_out)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = parents.len / 4, slots = n_locs + 1, pairs = 0;
    const int32_t *parent = parents.buf, *location = locations.buf;
    int32_t *code = code_out.buf, *members = NULL, *tally = NULL, *rank = NULL, *children = NULL, *counts = NULL;
    Py_ssize_t *bucket = NULL;
    Child *kids = NULL;
    if (parents.len % 4 || locations.len != parents.len || code_out.len != parents.len || n >= INT32_MAX ||
        n_locs < 0 || n_locs >= INT32_MAX - 1) {
        PyErr_SetString(PyExc_ValueError, "transitions: arrays of mismatched sizes");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (parent[i] < -1 || parent[i] >= n || location[i] < 0 || location[i] >= n_locs) {
            PyErr_SetString(PyExc_ValueError, "transitions: parent or location out of range");
            goto done;
        }
    }
    size_t some = (size_t)(n ? n : 1), locs = (size_t)(n_locs ? n_locs : 1);
    members = malloc(some * sizeof(int32_t));  /* the nodes, bucketed by their parent's slot */
    children = malloc(some * sizeof(int32_t));
    bucket = calloc((size_t)slots + 1, sizeof(Py_ssize_t));
    counts = calloc((size_t)slots, sizeof(int32_t));
    tally = calloc(locs, sizeof(int32_t));  /* per location, its nodes in the current bucket */
    rank = malloc(locs * sizeof(int32_t));
    kids = malloc(locs * sizeof(Child));
    if (!members || !children || !bucket || !counts || !tally || !rank || !kids) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
#define SLOT(i) (parent[i] < 0 ? 0 : location[parent[i]] + 1)
    for (Py_ssize_t i = 0; i < n; i++) bucket[SLOT(i) + 1]++;
    for (Py_ssize_t b = 0; b < slots; b++) bucket[b + 1] += bucket[b];
    for (Py_ssize_t i = 0; i < n; i++) members[bucket[SLOT(i)]++] = (int32_t)i;
    for (Py_ssize_t b = slots; b > 0; b--) bucket[b] = bucket[b - 1];  /* back to each bucket's start */
    bucket[0] = 0;
#undef SLOT
    for (Py_ssize_t b = 0; b < slots; b++) {
        Py_ssize_t nd = 0;
        for (Py_ssize_t t = bucket[b]; t < bucket[b + 1]; t++) {
            int32_t l = location[members[t]];
            if (tally[l]++ == 0) kids[nd++].location = l;
        }
        for (Py_ssize_t k = 0; k < nd; k++) kids[k].count = tally[kids[k].location];
        qsort(kids, (size_t)nd, sizeof(Child), by_count_then_location);
        for (Py_ssize_t k = 0; k < nd; k++) {
            rank[kids[k].location] = (int32_t)k;
            tally[kids[k].location] = 0;
            children[pairs + k] = kids[k].location;
        }
        for (Py_ssize_t t = bucket[b]; t < bucket[b + 1]; t++) code[members[t]] = rank[location[members[t]]];
        counts[b] = (int32_t)nd;
        pairs += nd;
    }
    Py_END_ALLOW_THREADS
    PyObject *c = PyBytes_FromStringAndSize((const char *)counts, (Py_ssize_t)(slots * 4));
    PyObject *k = c ? PyBytes_FromStringAndSize((const char *)children, pairs * 4) : NULL;
    if (c && k)
        result = PyTuple_Pack(2, c, k);
    Py_XDECREF(c);
    Py_XDECREF(k);
done:
    free(members);
    free(children);
    free(bucket);
    free(counts);
    free(tally);
    free(rank);
    free(kids);
    PyBuffer_Release(&parents);
    PyBuffer_Release(&locations);
    PyBuffer_Release(&code_out);
    return result;
}

typedef struct {
    double value;
    int32_t id;
} Sum;

static int by_sum(const void *a, const void *b) {
    double x = ((const Sum *)a)->value, y = ((const Sum *)b)->value;
    return (x > y) - (x < y);
}

static PyObject *cut_order(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer parents, leaves, weights, level_buf, order_out;
    if (!PyArg_ParseTuple(args, "y*y*y*y*w*", &parents, &leaves, &weights, &level_buf, &order_out)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = parents.len / 4, m = leaves.len / 4, levels = level_buf.len / 8, written = 0, d = 0;
    const int32_t *parent = parents.buf, *leaf = leaves.buf;
    const double *w = weights.buf;
    const int64_t *lv = level_buf.buf;
    int32_t *order = order_out.buf, *id = NULL, *rank = NULL, *slot = NULL;
    Sum *sums = NULL;
    double *below = NULL, *value = NULL;
    Py_ssize_t *start = NULL;
    if (parents.len % 4 || leaves.len % 4 || weights.len != m * 8 || level_buf.len % 8 || order_out.len != n * 4 ||
        n >= INT32_MAX || levels < 1 || lv[0] != 0 || lv[levels - 1] != n) {
        PyErr_SetString(PyExc_ValueError, "cut_order: arrays of mismatched sizes");
        goto done;
    }
    if (!starts_ascend(lv, levels - 1, "cut_order: level")) goto done;
    for (Py_ssize_t j = 0; j + 1 < levels; j++) {  /* level j is lv[j]…lv[j + 1]; its parents, level j - 1 */
        for (Py_ssize_t i = lv[j]; i < lv[j + 1]; i++) {
            if (j == 0 ? parent[i] != -1 : (parent[i] < lv[j - 1] || parent[i] >= lv[j])) {
                PyErr_SetString(PyExc_ValueError, "cut_order: a parent outside the level before");
                goto done;
            }
        }
    }
    for (Py_ssize_t s = 0; s < m; s++) {
        if (leaf[s] < -1 || leaf[s] >= n) {
            PyErr_SetString(PyExc_ValueError, "cut_order: leaf out of range");
            goto done;
        }
    }
    size_t some = (size_t)(n ? n : 1);
    size_t mask = 1023;
    below = calloc(some, sizeof(double));
    id = malloc(some * sizeof(int32_t));
    value = malloc(some * sizeof(double));
    slot = malloc((mask + 1) * sizeof(int32_t));
    if (!below || !id || !value || !slot) {
        PyErr_NoMemory();
        goto done;
    }
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t s = 0; s < m; s++)
        if (leaf[s] >= 0) below[leaf[s]] += w[s];
    for (Py_ssize_t k = levels - 2; k >= 1; k--)  /* deepest level first, each in node order */
        for (Py_ssize_t i = lv[k]; i < lv[k + 1]; i++) below[parent[i]] += below[i];
    /* number the distinct sums (by their bits: the sums are never -0.0 or NaN) */
    for (size_t k = 0; k <= mask; k++) slot[k] = -1;
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        uint64_t bits;
        memcpy(&bits, &below[i], 8);
        size_t h = key_hash(bits) & mask;
        for (;; h = (h + 1) & mask) {
            int32_t v = slot[h];
            if (v < 0) {
                value[d] = below[i];
                slot[h] = (int32_t)d;
                id[i] = (int32_t)d++;
                break;
            }
            if (memcmp(&value[v], &below[i], 8) == 0) {
                id[i] = v;
                break;
            }
        }
        if ((size_t)d * 2 > mask) {  /* grow to keep the table at most half full */
            size_t bigger = (mask + 1) * 2 - 1;
            int32_t *more = malloc((bigger + 1) * sizeof(int32_t));
            if (!more) {
                failed = 1;
                break;
            }
            for (size_t k = 0; k <= bigger; k++) more[k] = -1;
            for (Py_ssize_t v = 0; v < d; v++) {
                uint64_t b;
                memcpy(&b, &value[v], 8);
                size_t g = key_hash(b) & bigger;
                while (more[g] >= 0) g = (g + 1) & bigger;
                more[g] = (int32_t)v;
            }
            free(slot);
            slot = more;
            mask = bigger;
        }
    }
    Py_END_ALLOW_THREADS
    free(below);
    below = NULL;
    free(slot);
    slot = NULL;
    sums = malloc((size_t)(d ? d : 1) * sizeof(Sum));
    rank = malloc((size_t)(d ? d : 1) * sizeof(int32_t));
    start = calloc((size_t)d + 1, sizeof(Py_ssize_t));
    if (failed || !sums || !rank || !start) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t v = 0; v < d; v++) {
        sums[v].value = value[v];
        sums[v].id = (int32_t)v;
    }
    qsort(sums, (size_t)d, sizeof(Sum), by_sum);  /* distinct values: no ties to order */
    for (Py_ssize_t r = 0; r < d; r++) rank[sums[r].id] = (int32_t)r;
    /* counting sort by rank, the nodes taken from the last: equals come out last numbered first */
    Py_ssize_t first = lv[levels > 1 ? 1 : 0];  /* root frames are not cut */
    for (Py_ssize_t i = first; i < n; i++) start[rank[id[i]] + 1]++;
    for (Py_ssize_t r = 0; r < d; r++) start[r + 1] += start[r];
    for (Py_ssize_t i = n - 1; i >= first; i--) order[start[rank[id[i]]]++] = (int32_t)i;
    written = n - first;
    Py_END_ALLOW_THREADS
    result = PyLong_FromSsize_t(written);
done:
    free(below);
    free(id);
    free(value);
    free(slot);
    free(sums);
    free(rank);
    free(start);
    PyBuffer_Release(&parents);
    PyBuffer_Release(&leaves);
    PyBuffer_Release(&weights);
    PyBuffer_Release(&level_buf);
    PyBuffer_Release(&order_out);
    return result;
}

static PyMethodDef methods[] = {
    {"prefix_tree", prefix_tree, METH_VARARGS,
     "prefix_tree(loc_index, starts, n_locations, parent, location, leaf) -> level starts:\n"
     "the samples' root-first stacks as a prefix tree (see the source)."},
    {"transitions", transitions, METH_VARARGS,
     "transitions(parent, location, n_locations, code) -> (counts, children): the tree's locations\n"
     "as ranks among the locations under the same parent location (see the source)."},
    {"cut_order", cut_order, METH_VARARGS,
     "cut_order(parent, leaf, weights, levels, order) -> count: the order trimming cuts the tree's nodes\n"
     "in (see the source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_prefix", "The explorer's prefix tree, its transitions and cut order (explorer_data.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__prefix(void) { return PyModule_Create(&module); }

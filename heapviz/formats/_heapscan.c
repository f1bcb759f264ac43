/* Fast path for the sample lines of gperftools text heap profiles.
 *
 * A Scanner reads blocks of complete lines such as
 *
 *     1:       24 [     1:       24] @ 0x4005d6 0x400612 0x7f3a1c02a1ca
 *
 * and keeps two tables across blocks: distinct addresses (each moved back one byte onto the
 * call instruction) numbered in first-seen order, and distinct (stack, object size) groups
 * numbered in first-seen order.  For each line it hands back the line's group and its four
 * counts; Python sums the counts of repeated groups with exact integers.
 *
 * The scanner accepts only the plain form gperftools writes: decimal counts separated by
 * blanks, '[', ']' and ':', then '@', then "0x"-prefixed hexadecimal addresses.  It stops at
 * the first line it does not accept (a blank line, the memory map, anything odd) and returns
 * its offset; the Python parser reads that line, decides what it is (and words any error), and
 * hands its stack back through Scanner.group().  Both paths therefore give the same profile.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    /* distinct addresses: addr[id]; addr_slot[] is an open-addressing table of id + 1 */
    uint64_t *addr;
    Py_ssize_t naddr, addr_cap;
    int32_t *addr_slot;
    size_t addr_mask;
    /* distinct (stack, size) groups: frames[gstart[g] .. gstart[g + 1]] */
    int32_t *frames;
    Py_ssize_t nframes, frames_cap;
    int64_t *gstart;
    uint64_t *gsize, *ghash;
    Py_ssize_t ngroups, groups_cap;
    int32_t *group_slot;
    size_t group_mask;
    /* one line's addresses while it is checked, before anything is interned */
    uint64_t *line;
    Py_ssize_t line_cap;
} Scanner;

static inline uint64_t addr_hash(uint64_t x) {
    x *= 0x9e3779b97f4a7c15ULL;
    return x ^ (x >> 29);
}

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int grow(void **p, Py_ssize_t *cap, Py_ssize_t need, size_t item) {
    if (need <= *cap) return 0;
    Py_ssize_t n = *cap ? *cap : 1024;
    while (n < need) {
        if (n > PY_SSIZE_T_MAX / 2 / (Py_ssize_t)item) return -1;
        n *= 2;
    }
    void *q = realloc(*p, (size_t)n * item);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int rehash_addr(Scanner *s, size_t size) {
    int32_t *t = calloc(size, sizeof(int32_t));
    if (!t) return -1;
    size_t mask = size - 1;
    for (Py_ssize_t k = 0; k < s->naddr; k++) {
        size_t i = addr_hash(s->addr[k]) & mask;
        while (t[i]) i = (i + 1) & mask;
        t[i] = (int32_t)(k + 1);
    }
    free(s->addr_slot);
    s->addr_slot = t;
    s->addr_mask = mask;
    return 0;
}

/* The id of address a, added if new; -1 when out of memory or ids. */
static int32_t intern_addr(Scanner *s, uint64_t a) {
    size_t mask = s->addr_mask;
    size_t i = addr_hash(a) & mask;
    for (int32_t v; (v = s->addr_slot[i]) != 0; i = (i + 1) & mask)
        if (s->addr[v - 1] == a) return v - 1;
    if (s->naddr >= INT32_MAX - 1) return -1;
    if (grow((void **)&s->addr, &s->addr_cap, s->naddr + 1, sizeof(uint64_t)) < 0) return -1;
    s->addr[s->naddr] = a;
    s->naddr++;
    if ((size_t)s->naddr * 2 > mask + 1) return rehash_addr(s, (mask + 1) * 2) < 0 ? -1 : (int32_t)(s->naddr - 1);
    s->addr_slot[i] = (int32_t)s->naddr;
    return (int32_t)(s->naddr - 1);
}

static int rehash_groups(Scanner *s, size_t size) {
    int32_t *t = calloc(size, sizeof(int32_t));
    if (!t) return -1;
    size_t mask = size - 1;
    for (Py_ssize_t g = 0; g < s->ngroups; g++) {
        size_t i = s->ghash[g] & mask;
        while (t[i]) i = (i + 1) & mask;
        t[i] = (int32_t)(g + 1);
    }
    free(s->group_slot);
    s->group_slot = t;
    s->group_mask = mask;
    return 0;
}

/* Room for twice as many groups (gstart holds one entry more than there are groups). */
static int grow_groups(Scanner *s) {
    Py_ssize_t n = s->groups_cap * 2;
    int64_t *a = realloc(s->gstart, (size_t)n * sizeof(int64_t));
    if (!a) return -1;
    s->gstart = a;
    uint64_t *b = realloc(s->gsize, (size_t)n * sizeof(uint64_t));
    if (!b) return -1;
    s->gsize = b;
    uint64_t *c = realloc(s->ghash, (size_t)n * sizeof(uint64_t));
    if (!c) return -1;
    s->ghash = c;
    s->groups_cap = n;
    return 0;
}

/* The group of the stack in s->line[0..n) with this object size, added if new; -1 on failure.
 * *is_new tells whether it was added. */
static int32_t intern_group(Scanner *s, Py_ssize_t n, uint64_t size, int *is_new) {
    if (grow((void **)&s->frames, &s->frames_cap, s->nframes + n, sizeof(int32_t)) < 0) return -1;
    int32_t *f = s->frames + s->nframes; /* written here first; kept only if the group is new */
    uint64_t h = mix64(size ^ ((uint64_t)n << 48));
    for (Py_ssize_t k = 0; k < n; k++) {
        int32_t id = intern_addr(s, s->line[k]);
        if (id < 0) return -1;
        f[k] = id;
        h = (h ^ (uint64_t)(uint32_t)id) * 0x100000001b3ULL;
    }
    h = mix64(h);
    size_t mask = s->group_mask;
    size_t i = h & mask;
    for (int32_t v; (v = s->group_slot[i]) != 0; i = (i + 1) & mask) {
        Py_ssize_t g = v - 1;
        if (s->ghash[g] == h && s->gsize[g] == size && s->gstart[g + 1] - s->gstart[g] == n &&
            memcmp(s->frames + s->gstart[g], f, (size_t)n * sizeof(int32_t)) == 0) {
            *is_new = 0;
            return (int32_t)g;
        }
    }
    if (s->ngroups >= INT32_MAX - 2) return -1;
    if (s->ngroups + 2 > s->groups_cap && grow_groups(s) < 0) return -1;
    Py_ssize_t g = s->ngroups++;
    s->gsize[g] = size;
    s->ghash[g] = h;
    s->nframes += n;
    s->gstart[g + 1] = s->nframes;
    *is_new = 1;
    if ((size_t)s->ngroups * 2 > mask + 1) {
        if (rehash_groups(s, (mask + 1) * 2) < 0) return -1;
    } else {
        s->group_slot[i] = (int32_t)(g + 1);
    }
    return (int32_t)g;
}

static inline int is_blank(unsigned char c) {
    /* bytes.split()'s whitespace, less '\n', which ends the line */
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static inline int is_count_sep(unsigned char c) { return is_blank(c) || c == '[' || c == ']' || c == ':'; }

static signed char HEX[256]; /* digit value, or -1; filled at import */

static inline int hex_digit(unsigned char c) { return HEX[c]; }

/* Checks one line [p, eol): its counts into v[4], its addresses (minus one) into s->line, their
 * number into *n.  0 if the line is in the plain form, 1 to leave it to Python, -1 on no memory. */
static int scan_line(Scanner *s, const unsigned char *p, const unsigned char *eol, uint64_t v[4],
                     Py_ssize_t *n) {
    int nv = 0;
    for (;;) {
        while (p < eol && is_count_sep(*p)) p++;
        if (p >= eol) return 1; /* no '@' */
        if (*p == '@') break;
        if (*p < '0' || *p > '9' || nv == 4) return 1;
        uint64_t x = 0;
        for (; p < eol && *p >= '0' && *p <= '9'; p++) {
            uint64_t d = (uint64_t)(*p - '0');
            if (x > (UINT64_MAX - d) / 10) return 1; /* beyond 64 bits: Python words the error */
            x = x * 10 + d;
        }
        if (p < eol && !is_count_sep(*p) && *p != '@') return 1;
        v[nv++] = x;
    }
    if (nv == 2) {
        v[2] = v[0];
        v[3] = v[1];
    } else if (nv != 4) {
        return 1;
    }
    if ((v[0] == 0 && v[1] != 0) || (v[2] == 0 && v[3] != 0)) return 1;
    p++; /* '@' */
    Py_ssize_t k = 0;
    for (;;) {
        while (p < eol && is_blank(*p)) p++;
        if (p >= eol) break;
        if (eol - p < 3 || p[0] != '0' || p[1] != 'x') return 1;
        p += 2;
        uint64_t x = 0;
        int digits = 0;
        for (int d; p < eol && (d = hex_digit(*p)) >= 0; p++, digits++) {
            if (x >> 60) return 1;
            x = (x << 4) | (uint64_t)d;
        }
        if (!digits || (p < eol && !is_blank(*p)) || x == 0) return 1;
        if (k >= s->line_cap && grow((void **)&s->line, &s->line_cap, k + 1, sizeof(uint64_t)) < 0) return -1;
        s->line[k++] = x - 1; /* a return address, moved back onto the call */
    }
    *n = k;
    return 0;
}

static uint64_t object_size(const uint64_t v[4]) {
    if (v[0]) return v[1] / v[0];
    if (v[2]) return v[3] / v[2];
    return 0;
}

PyDoc_STRVAR(feed_doc,
"feed(block, start, max_line) -> (stop, lines, groups, values, new)\n\n"
"Reads the complete lines of `block` from offset `start` while they are in the plain form and\n"
"no longer than max_line bytes. `stop` is the offset of the first line not read (len(block)\n"
"when all were), `lines` how many were read, `groups` their group ids (int32 bytes), `values`\n"
"their [inuse count, inuse bytes, alloc count, alloc bytes] (uint64 bytes, four per line), `new`\n"
"how many groups they added. The block is read without holding the GIL.");

static PyObject *Scanner_feed(Scanner *s, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t start, max_line;
    if (!PyArg_ParseTuple(args, "y*nn", &buf, &start, &max_line)) return NULL;
    const unsigned char *base = buf.buf;
    const unsigned char *p = base + (start < 0 ? 0 : (start > buf.len ? buf.len : start));
    const unsigned char *end = base + buf.len;
    int32_t *groups = NULL;
    uint64_t *values = NULL;
    Py_ssize_t ngroups_cap = 0, values_cap = 0, nlines = 0, before = s->ngroups;
    int nomem = 0;
    Py_BEGIN_ALLOW_THREADS
    while (p < end) {
        const unsigned char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol || eol - p > max_line) break;
        uint64_t v[4];
        Py_ssize_t n = 0;
        int r = scan_line(s, p, eol, v, &n);
        if (r < 0) {
            nomem = 1;
            break;
        }
        if (r > 0) break;
        int is_new;
        int32_t g = intern_group(s, n, object_size(v), &is_new);
        if (g < 0 || grow((void **)&groups, &ngroups_cap, nlines + 1, sizeof(int32_t)) < 0 ||
            grow((void **)&values, &values_cap, (nlines + 1) * 4, sizeof(uint64_t)) < 0) {
            nomem = 1;
            break;
        }
        groups[nlines] = g;
        memcpy(values + nlines * 4, v, sizeof v);
        nlines++;
        p = eol + 1;
    }
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (nomem) {
        PyErr_NoMemory();
    } else {
        PyObject *gbytes = PyBytes_FromStringAndSize(nlines ? (const char *)groups : "", nlines * (Py_ssize_t)sizeof(int32_t));
        PyObject *vbytes = PyBytes_FromStringAndSize(nlines ? (const char *)values : "", nlines * 4 * (Py_ssize_t)sizeof(uint64_t));
        if (gbytes && vbytes)
            result = Py_BuildValue("nnNNn", (Py_ssize_t)(p - base), nlines, gbytes, vbytes, s->ngroups - before);
        else {
            Py_XDECREF(gbytes);
            Py_XDECREF(vbytes);
        }
    }
    free(groups);
    free(values);
    PyBuffer_Release(&buf);
    return result;
}

PyDoc_STRVAR(group_doc,
"group(addresses, size) -> (group, new)\n\n"
"The group of a stack given as addresses already moved back one byte (ints below 2**64) and\n"
"an object size, added if new: for lines the Python parser read itself.");

static PyObject *Scanner_group(Scanner *s, PyObject *args) {
    PyObject *seq;
    unsigned long long size;
    if (!PyArg_ParseTuple(args, "OK", &seq, &size)) return NULL;
    PyObject *fast = PySequence_Fast(seq, "addresses must be a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (grow((void **)&s->line, &s->line_cap, n, sizeof(uint64_t)) < 0) {
        Py_DECREF(fast);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        unsigned long long a = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(fast, k));
        if (a == (unsigned long long)-1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return NULL;
        }
        s->line[k] = a;
    }
    Py_DECREF(fast);
    int is_new;
    int32_t g = intern_group(s, n, size, &is_new);
    if (g < 0) return PyErr_NoMemory();
    return Py_BuildValue("iO", g, is_new ? Py_True : Py_False);
}

PyDoc_STRVAR(addresses_doc, "addresses() -> bytes: the distinct addresses (uint64), by id");

static PyObject *Scanner_addresses(Scanner *s, PyObject *Py_UNUSED(ignored)) {
    return PyBytes_FromStringAndSize((const char *)s->addr, s->naddr * (Py_ssize_t)sizeof(uint64_t));
}

PyDoc_STRVAR(table_doc,
"table() -> (bytes, bytes): every group's stack as address ids, one group after another\n"
"(int32), and where each group starts in them (int64, one entry more than groups).");

static PyObject *Scanner_table(Scanner *s, PyObject *Py_UNUSED(ignored)) {
    return Py_BuildValue("(y#y#)", (const char *)s->frames, s->gstart[s->ngroups] * (Py_ssize_t)sizeof(int32_t),
                         (const char *)s->gstart, (s->ngroups + 1) * (Py_ssize_t)sizeof(int64_t));
}

static PyMethodDef Scanner_methods[] = {
    {"feed", (PyCFunction)Scanner_feed, METH_VARARGS, feed_doc},
    {"group", (PyCFunction)Scanner_group, METH_VARARGS, group_doc},
    {"addresses", (PyCFunction)Scanner_addresses, METH_NOARGS, addresses_doc},
    {"table", (PyCFunction)Scanner_table, METH_NOARGS, table_doc},
    {NULL, NULL, 0, NULL},
};

static int Scanner_init(Scanner *s, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "", kwlist)) return -1;
    if (s->addr_slot) return 0;
    s->addr_slot = calloc(1024, sizeof(int32_t));
    s->group_slot = calloc(1024, sizeof(int32_t));
    s->gstart = calloc(1024, sizeof(int64_t));
    s->gsize = calloc(1024, sizeof(uint64_t));
    s->ghash = calloc(1024, sizeof(uint64_t));
    if (!s->addr_slot || !s->group_slot || !s->gstart || !s->gsize || !s->ghash) {
        PyErr_NoMemory();
        return -1;
    }
    s->addr_mask = s->group_mask = 1023;
    s->groups_cap = 1024;
    return 0;
}

static void Scanner_dealloc(Scanner *s) {
    free(s->addr);
    free(s->addr_slot);
    free(s->frames);
    free(s->gstart);
    free(s->gsize);
    free(s->ghash);
    free(s->group_slot);
    free(s->line);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "heapviz.formats._heapscan.Scanner",
    .tp_doc = PyDoc_STR("Interns the addresses and stacks of gperftools heap profile sample lines."),
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_heapscan",
    "Fast path for the sample lines of gperftools text heap profiles (see gperftools_heap.py).", -1, NULL,
};

PyMODINIT_FUNC PyInit__heapscan(void) {
    memset(HEX, -1, sizeof HEX);
    for (int c = 0; c < 10; c++) HEX['0' + c] = (signed char)c;
    for (int c = 0; c < 6; c++) HEX['a' + c] = HEX['A' + c] = (signed char)(10 + c);
    if (PyType_Ready(&ScannerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

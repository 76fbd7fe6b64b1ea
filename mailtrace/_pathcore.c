/* The queue files of a log's events: which rows belong to which, and each file's landmark rows.
 *
 * Why this exists: mailtrace/paths.py numbers the queue files (one (host, queue id) between two
 * `removed` lines) and finds each file's first and last row and its first client, from, removed …
 * line. In NumPy that is a sort by queue id, a dozen passes and nine ufunc.at scatters: about
 * 50 ms of the report's critical path for a million lines. Here it is three passes over the rows
 * in time order, with the GIL released. paths.py keeps the NumPy version for an install without
 * a C compiler, and tests/test_pathcore.py holds the two to the same answers.
 *
 * The numbering is the NumPy version's: files ordered by code, then by how many `removed` lines
 * of that code came before them. A code's rows before its first removal are its file 0, the rows
 * after it file 1 and so on; a removal belongs to the file it ends. So a code with its last row
 * after r removals has files 0..r, and file k of code c is number base[c] + k, base[c] being the
 * number of files of the codes below c.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Rows of the table file_rows returns, per queue file; then one row per role bit. */
enum { R_FIRST, R_LAST, R_REUSE, R_ROLES };
#define NBITS 8

static const char file_rows_doc[] =
    "file_rows(code, ncodes, kind, roles, removed_bit, extra, extra_bit, seg) -> (nseg, table)\n\n"
    "code: int64 per row (rows in time order), each in [0, ncodes): the row's (host, queue id).\n"
    "kind: int32 per row, the row's kind code (-1: none); roles: bytes, the role bits of each\n"
    "kind code. extra: int64 rows that also have role bit extra_bit. A row whose roles include\n"
    "removed_bit ends its queue file. seg: a writable int64 buffer of one item per row, filled\n"
    "with each row's queue file number. table: 3 + 8 rows of nseg int64 (a bytearray): each file's\n"
    "first row, last row, reuse number (0 for a code's first file), then for each role bit its\n"
    "first row with that bit; -1 where there is none.";

static PyObject *file_rows(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer code = {0}, kind = {0}, roles = {0}, extra = {0}, seg = {0};
    Py_ssize_t ncodes;
    int removed_bit, extra_bit;
    if (!PyArg_ParseTuple(args, "y*ny*y*iy*iw*", &code, &ncodes, &kind, &roles, &removed_bit,
                          &extra, &extra_bit, &seg))
        return NULL;
    PyObject *result = NULL, *table = NULL;
    int64_t *removals = NULL, *last_reuse = NULL;
    uint8_t *role = NULL;
    Py_ssize_t n = code.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t nextra = extra.len / (Py_ssize_t)sizeof(int64_t);
    if (code.len != n * (Py_ssize_t)sizeof(int64_t) || kind.len != n * (Py_ssize_t)sizeof(int32_t) ||
        seg.len != code.len || extra.len != nextra * (Py_ssize_t)sizeof(int64_t) || ncodes < 0 ||
        removed_bit < 0 || removed_bit >= NBITS || extra_bit < 0 || extra_bit >= NBITS) {
        PyErr_SetString(PyExc_ValueError, "file_rows: buffers of mismatched sizes");
        goto done;
    }
    const int64_t *c = code.buf, *ex = extra.buf;
    const int32_t *k = kind.buf;
    const uint8_t *bits_of = roles.buf;
    int64_t *s = seg.buf;
    for (Py_ssize_t i = 0; i < n; i++)
        if (c[i] < 0 || c[i] >= ncodes) {
            PyErr_SetString(PyExc_ValueError, "file_rows: a code outside [0, ncodes)");
            goto done;
        }
    for (Py_ssize_t j = 0; j < nextra; j++)
        if (ex[j] < 0 || ex[j] >= n) {
            PyErr_SetString(PyExc_ValueError, "file_rows: an extra row outside the rows");
            goto done;
        }
    removals = calloc((size_t)ncodes + 1, sizeof(int64_t));
    last_reuse = malloc(((size_t)ncodes + 1) * sizeof(int64_t));
    role = malloc((size_t)n + 1);
    if (!removals || !last_reuse || !role) {
        PyErr_NoMemory();
        goto done;
    }
    const uint8_t removed_mask = (uint8_t)(1u << removed_bit);
    Py_ssize_t nseg = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) role[i] = (k[i] >= 0 && k[i] < roles.len) ? bits_of[k[i]] : 0;
    for (Py_ssize_t j = 0; j < nextra; j++) role[ex[j]] |= (uint8_t)(1u << extra_bit);
    for (Py_ssize_t q = 0; q < ncodes; q++) last_reuse[q] = -1;
    /* Pass 1: each row's reuse number (removals of its code before it), kept in seg for now. */
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t q = c[i], r = removals[q];
        s[i] = r;
        last_reuse[q] = r;
        if (role[i] & removed_mask) removals[q] = r + 1;
    }
    /* The first file number of each code (in removals, no longer needed as counts). */
    for (Py_ssize_t q = 0; q < ncodes; q++) {
        removals[q] = nseg;
        if (last_reuse[q] >= 0) nseg += last_reuse[q] + 1;
    }
    Py_END_ALLOW_THREADS
    if (nseg > PY_SSIZE_T_MAX / (Py_ssize_t)((R_ROLES + NBITS) * sizeof(int64_t))) {
        PyErr_NoMemory();
        goto done;
    }
    table = PyByteArray_FromStringAndSize(NULL, nseg * (R_ROLES + NBITS) * (Py_ssize_t)sizeof(int64_t));
    if (table == NULL) goto done;
    int64_t *t = (int64_t *)PyByteArray_AS_STRING(table);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t x = 0; x < nseg * (R_ROLES + NBITS); x++) t[x] = -1;
    int64_t *first = t + R_FIRST * nseg, *last = t + R_LAST * nseg, *reuse = t + R_REUSE * nseg;
    int64_t *by_role = t + R_ROLES * nseg;
    /* Pass 2: file numbers, and each file's landmark rows (rows come in time order). */
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t r = s[i], f = removals[c[i]] + r;
        s[i] = f;
        if (first[f] < 0) {
            first[f] = i;
            reuse[f] = r;
        }
        last[f] = i;
        for (unsigned b = role[i]; b; b &= b - 1) {
            int64_t *at = by_role + (Py_ssize_t)__builtin_ctz(b) * nseg + f;
            if (*at < 0) *at = i;
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("nO", nseg, table);
done:
    Py_XDECREF(table);
    free(removals);
    free(last_reuse);
    free(role);
    PyBuffer_Release(&code);
    PyBuffer_Release(&kind);
    PyBuffer_Release(&roles);
    PyBuffer_Release(&extra);
    PyBuffer_Release(&seg);
    return result;
}

static PyMethodDef methods[] = {
    {"file_rows", file_rows, METH_VARARGS, file_rows_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_pathcore", "The queue files of a log's events (see paths.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__pathcore(void) { return PyModule_Create(&module); }

/* The delivery paths' counting in C: numbering queue files, and numbering a column's values.
 *
 * file_rows. mailtrace/paths.py numbers the queue files (one (host, queue id) between two
 * `removed` lines) and finds each file's first and last row and its first client, from, removed …
 * line. In NumPy that is a sort by queue id, a dozen passes and nine ufunc.at scatters: about
 * 50 ms of the report's critical path for a million lines. Here it is three passes over the rows
 * in time order, with the GIL released. mailtrace/queue_files.py keeps the NumPy version for an
 * install without a C compiler, and tests/test_queue_files.py holds the two to the same answers.
 *
 * The numbering is the NumPy version's: files ordered by code, then by how many `removed` lines
 * of that code came before them. A code's rows before its first removal are its file 0, the rows
 * after it file 1 and so on; a removal belongs to the file it ends. So a code with its last row
 * after r removals has files 0..r, and file k of code c is number base[c] + k, base[c] being the
 * number of files of the codes below c.
 *
 * attempts. A recipient's attempts within a queue file are numbered 1, 2 … and its last one is
 * its final word; NumPy sorts the attempts by (file, recipient) for that. Here each file's
 * recipients are a short chain found from the file's number, in one pass and one back.
 *
 * factorize. The paths and the report number the values of string columns (queue ids, kinds,
 * recipients …) in order of first appearance, as Arrow's dictionary_encode does, but that costs
 * ~60 ns a row (a generic hash of every string, then the chunks' dictionaries unified). The
 * values here are short: a string is hashed and compared by its first and last 8 bytes and its
 * length (_ends.h), and a run of one value skips the hash.
 *
 * blank. The report groups replies by their text with addresses, IPs, ids and numbers blanked:
 * six RE2 patterns one after the other through Arrow, 35 ms for the 10,000 distinct reject
 * texts of a million lines. Here each pattern is the single pass over the text it amounts to,
 * all six in one call: 9 ms.
 *
 * gather. Arrow's take from a column of many chunks (one per byte range parsed) joins the
 * chunks into one array first, each time: the paths' dozen takes of a sixth of the rows of a
 * million lines copied whole columns into fresh memory, whose pages the kernel zeroes first.
 * Here only the rows wanted are copied, straight from the chunks: 2-2.4 times faster for the
 * string columns (mailtrace/column_take.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "_ends.h"

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


/* --- factorize: a string column as codes of first appearance ------------------------------- */

/* A distinct value: where its first occurrence is, and its ends (see _ends.h). */
typedef struct {
    const char *p;
    int32_t n;
    uint64_t head, tail;
} Value;

/* The open-addressing table of factorize: per slot the value's code + 1 (0: empty) and the top
 * bits of its hash, so most probes of another value end without touching its Value. */
typedef struct {
    uint32_t code1, tag;
} Slot;

typedef struct {
    Slot *slots;
    size_t mask;
    Value *values;
    int64_t *firsts;
    Py_ssize_t n, cap;
} Table;

/* The hash of a value: its ends and length (_ends.h), and for a value of more than 16 bytes its
 * middle too: addresses and reply texts of one server share their first and last 8 bytes
 * (newsletter-0001@example.com …), which alone would put them all in one probe chain. */
static inline uint64_t value_hash(const char *p, int32_t n, uint64_t head, uint64_t tail) {
    uint64_t h = ends_hash(n, head, tail);
    for (int32_t k = 8; k + 8 < n; k += 8) {
        uint64_t w;
        memcpy(&w, p + k, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    return h;
}

static int table_grow(Table *t) {
    size_t size = (t->mask + 1) * 2;
    Slot *slots = calloc(size, sizeof(Slot));
    if (slots == NULL) return -1;
    for (Py_ssize_t c = 0; c < t->n; c++) {
        const Value *v = &t->values[c];
        uint64_t h = value_hash(v->p, v->n, v->head, v->tail);
        size_t at = (size_t)(h >> 20) & (size - 1);
        while (slots[at].code1) at = (at + 1) & (size - 1);
        slots[at] = (Slot){(uint32_t)c + 1, (uint32_t)(h >> 32)};
    }
    free(t->slots);
    t->slots = slots;
    t->mask = size - 1;
    return 0;
}

/* The code of p[0:n] (a new one, first seen at row `row`, if it is new); -1: out of memory. */
static int64_t table_code(Table *t, const char *p, int32_t n, const char *limit, int64_t row) {
    uint64_t head, tail;
    ends_of(p, n, limit, &head, &tail);
    uint64_t h = value_hash(p, n, head, tail);
    uint32_t tag = (uint32_t)(h >> 32);
    size_t at = (size_t)(h >> 20) & t->mask;
    for (;; at = (at + 1) & t->mask) {
        Slot s = t->slots[at];
        if (s.code1 == 0) break;
        if (s.tag == tag) {
            const Value *v = &t->values[s.code1 - 1];
            if (ends_equal(v->p, v->n, v->head, v->tail, p, n, head, tail)) return s.code1 - 1;
        }
    }
    if (t->n == t->cap) {
        Py_ssize_t cap = t->cap * 2;
        Value *values = realloc(t->values, (size_t)cap * sizeof(Value));
        if (values == NULL) return -1;
        t->values = values;
        int64_t *firsts = realloc(t->firsts, (size_t)cap * sizeof(int64_t));
        if (firsts == NULL) return -1;
        t->firsts = firsts;
        t->cap = cap;
    }
    int64_t code = t->n++;
    t->values[code] = (Value){p, n, head, tail};
    t->firsts[code] = row;
    t->slots[at] = (Slot){(uint32_t)code + 1, tag};
    if ((size_t)t->n * 2 > t->mask + 1 && table_grow(t) < 0) return -1;
    return code;
}

/* One chunk of a string column, as its buffers. */
typedef struct {
    Py_buffer valid, offsets, data;
    Py_ssize_t offset, length;
    int have_valid;
} Chunk;

static const char factorize_doc[] =
    "factorize(chunks, codes) -> firsts\n\n"
    "chunks: a list of (validity or None, offset, length, offsets, data), the buffers of a string\n"
    "column's chunks (int32 offsets). codes: a writable int64 buffer of one item per row, filled\n"
    "with each row's code: distinct values numbered in order of first appearance, null -1.\n"
    "firsts: a bytearray of int64, the row where each code first appears.";

static PyObject *factorize(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *list;
    Py_buffer out = {0};
    if (!PyArg_ParseTuple(args, "O!w*", &PyList_Type, &list, &out)) return NULL;
    Py_ssize_t nchunks = PyList_GET_SIZE(list), rows = 0, ready = 0;
    PyObject *result = NULL;
    Table t = {0};
    Chunk *chunks = calloc((size_t)nchunks + 1, sizeof(Chunk));
    if (chunks == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; ready < nchunks; ready++) {
        Chunk *c = &chunks[ready];
        PyObject *valid;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, ready), "Onny*y*", &valid, &c->offset,
                              &c->length, &c->offsets, &c->data))
            goto done;
        c->have_valid = valid != Py_None;
        if (c->have_valid && PyObject_GetBuffer(valid, &c->valid, PyBUF_SIMPLE) < 0) {
            PyBuffer_Release(&c->offsets);
            PyBuffer_Release(&c->data);
            goto done;
        }
        int bad = !strings_fit(c->offset, c->length, c->offsets.buf, c->offsets.len, c->data.len,
                               c->have_valid ? c->valid.len : -1);
        rows += c->length;
        if (bad) {
            ready++;
            PyErr_SetString(PyExc_ValueError, "factorize: buffers shorter than the chunk");
            goto done;
        }
    }
    if (out.len != rows * (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "factorize: codes buffer of the wrong size");
        goto done;
    }
    t.cap = 1024;
    t.mask = 2047;
    t.slots = calloc(t.mask + 1, sizeof(Slot));
    t.values = malloc((size_t)t.cap * sizeof(Value));
    t.firsts = malloc((size_t)t.cap * sizeof(int64_t));
    if (!t.slots || !t.values || !t.firsts) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t *codes = out.buf, row = 0;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < nchunks && !failed; k++) {
        const Chunk *c = &chunks[k];
        const int32_t *off = c->offsets.buf;
        const uint8_t *bits = c->valid.buf;
        const char *bytes = c->data.buf, *limit = bytes + c->data.len;
        /* A run of one value (a message's lines, one host) skips the hash. */
        const char *last_p = NULL;
        int32_t last_n = -1;
        int64_t last_code = -1;
        for (Py_ssize_t i = c->offset; i < c->offset + c->length; i++, row++) {
            if (c->have_valid && !(bits[i >> 3] & (1u << (i & 7)))) {
                codes[row] = -1;
                continue;
            }
            const char *p = bytes + off[i];
            int32_t n = off[i + 1] - off[i];
            if (n == last_n && memcmp(p, last_p, (size_t)n) == 0) {
                codes[row] = last_code;
                continue;
            }
            int64_t code = table_code(&t, p, n, limit, row);
            if (code < 0) {
                failed = 1;
                break;
            }
            codes[row] = last_code = code;
            last_p = p;
            last_n = n;
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyByteArray_FromStringAndSize((const char *)t.firsts, t.n * (Py_ssize_t)sizeof(int64_t));
done:
    for (Py_ssize_t k = 0; k < ready; k++) {
        if (chunks[k].have_valid) PyBuffer_Release(&chunks[k].valid);
        PyBuffer_Release(&chunks[k].offsets);
        PyBuffer_Release(&chunks[k].data);
    }
    free(chunks);
    free(t.slots);
    free(t.values);
    free(t.firsts);
    PyBuffer_Release(&out);
    return result;
}

/* --- attempts: each recipient's attempts within its queue file, numbered ------------------- */

static const char attempts_doc[] =
    "attempts(a, b, real, last, number)\n\n"
    "Rows grouped by (a[i], b[i]) (int64 each; a >= 0 and dense: a queue file's number), in row\n"
    "order. Fills last (uint8 per row) with 1 on each group's last row, and number (int32 per\n"
    "row) with how many rows of its group up to it have real[i] (uint8) set, at least 1.";

static PyObject *attempts(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer a = {0}, b = {0}, real = {0}, last = {0}, number = {0};
    if (!PyArg_ParseTuple(args, "y*y*y*w*w*", &a, &b, &real, &last, &number)) return NULL;
    PyObject *result = NULL;
    /* A file has few recipients: each file's groups are a short chain, from head[file]. */
    int32_t *head = NULL, *next = NULL, *count = NULL, *group = NULL;
    int64_t *key = NULL;
    uint8_t *seen = NULL;
    Py_ssize_t n = a.len / (Py_ssize_t)sizeof(int64_t), files = 0;
    if (a.len != n * (Py_ssize_t)sizeof(int64_t) || b.len != a.len || real.len != n ||
        last.len != n || number.len != n * (Py_ssize_t)sizeof(int32_t) || n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "attempts: buffers of mismatched sizes");
        goto done;
    }
    const int64_t *ka = a.buf, *kb = b.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (ka[i] < 0 || ka[i] > 4 * n + 1024) {
            PyErr_SetString(PyExc_ValueError, "attempts: a file number outside [0, 4 n]");
            goto done;
        }
        if (ka[i] >= files) files = ka[i] + 1;
    }
    head = malloc(((size_t)files + 1) * sizeof(int32_t));
    next = malloc(((size_t)n + 1) * sizeof(int32_t));
    count = malloc(((size_t)n + 1) * sizeof(int32_t));
    group = malloc(((size_t)n + 1) * sizeof(int32_t));
    key = malloc(((size_t)n + 1) * sizeof(int64_t));
    seen = calloc((size_t)n + 1, 1);
    if (!head || !next || !count || !group || !key || !seen) {
        PyErr_NoMemory();
        goto done;
    }
    const uint8_t *counts = real.buf;
    uint8_t *is_last = last.buf;
    int32_t *num = number.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t f = 0; f < files; f++) head[f] = -1;
    int32_t groups = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t g = head[ka[i]];
        while (g >= 0 && key[g] != kb[i]) g = next[g];
        if (g < 0) {
            g = groups++;
            key[g] = kb[i];
            count[g] = 0;
            next[g] = head[ka[i]];
            head[ka[i]] = g;
        }
        if (counts[i]) count[g]++;
        num[i] = count[g] > 1 ? count[g] : 1;
        group[i] = g;
    }
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        is_last[i] = !seen[group[i]];
        seen[group[i]] = 1;
    }
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    free(head);
    free(next);
    free(count);
    free(group);
    free(key);
    free(seen);
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    PyBuffer_Release(&real);
    PyBuffer_Release(&last);
    PyBuffer_Release(&number);
    return result;
}

/* ----------------------------------------------------------------------------------------- */
/* blank: reply texts with their variable parts blanked (mailtrace.paths.normalize_reasons).
 *
 * The six patterns of paths._BLANKS, applied one after the other as Arrow's
 * replace_substring_regex applies them (RE2: at each position from the left the alternatives in
 * order, the first that matches wins, the scan goes on after the match), each hand-written as
 * the one pass over the text it amounts to. RE2's \s is [\t\n\f\r ], \d [0-9] and \b an ASCII
 * word boundary, so every test is on bytes; a UTF-8 character's bytes are none of those.
 * tests/test_paths.py holds this to the RE2 passes on texts made of the patterns' own pieces.
 * Six RE2 passes cost 35 ms for the 10,000 distinct reject texts of a 1,000,000-line log. */

/* The byte classes, looked up in one table (chained comparisons cost twice as much). */
enum { RE_SPACE = 1, RE_DIGIT = 2, RE_WORD = 4, RE_HEX = 8, RE_TOKEN = 16, RE_IP = 32 };
static unsigned char RE_CLASS[256];

static void init_re_class(void) {
    for (int c = 0; c < 256; c++) {
        int digit = c >= '0' && c <= '9', upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z';
        int word = digit || upper || lower || c == '_';
        RE_CLASS[c] = (unsigned char)(
            (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' ? RE_SPACE : 0) |
            (digit ? RE_DIGIT : 0) | (word ? RE_WORD : 0) |
            (digit || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f') ? RE_HEX : 0) |
            (word || c == '+' || c == '=' || c == '-' ? RE_TOKEN : 0) |
            (digit || c == '[' ? RE_IP : 0)); /* where an address can start */
    }
}

static inline int re_space(unsigned char c) { return RE_CLASS[c] & RE_SPACE; }
static inline int re_digit(unsigned char c) { return RE_CLASS[c] & RE_DIGIT; }
static inline int re_word(unsigned char c) { return RE_CLASS[c] & RE_WORD; }
static inline int re_hex(unsigned char c) { return RE_CLASS[c] & RE_HEX; }
static inline int re_token(unsigned char c) { return RE_CLASS[c] & RE_TOKEN; } /* [A-Za-z0-9+=_-] */

#define ELLIPSIS "\xe2\x80\xa6" /* … */

/* Output of one pass: room for the worst growth is made by the caller (see blank_one). */
typedef struct {
    unsigned char *p;
    size_t n;
} Text;

static inline void put(Text *d, const void *src, size_t n) {
    memcpy(d->p + d->n, src, n);
    d->n += n;
}

/* ^host \S+ said:  -> "" ; \S+ can only end where the next byte is a space. */
static void blank_host(const unsigned char *s, size_t n, Text *d) {
    if (n >= 5 && memcmp(s, "host ", 5) == 0) {
        size_t e = 5;
        while (e < n && !re_space(s[e])) e++;
        if (e > 5 && n - e >= 7 && memcmp(s + e, " said: ", 7) == 0) {
            put(d, s + e + 7, n - e - 7);
            return;
        }
    }
    put(d, s, n);
}

/* name=\S+ type=  ->  name=… type= . A failed "name=" fails for every later one before the end
 * of its run of non-spaces (they share that end), so the search goes on from there. */
static void blank_name(const unsigned char *s, size_t n, Text *d) {
    size_t i = 0, from = 0;
    while (from + 5 <= n) {
        const unsigned char *f = memmem(s + from, n - from, "name=", 5);
        if (f == NULL) break;
        size_t p = (size_t)(f - s), e = p + 5;
        while (e < n && !re_space(s[e])) e++;
        if (e > p + 5 && n - e >= 6 && memcmp(s + e, " type=", 6) == 0) {
            put(d, s + i, p - i);
            put(d, "name=" ELLIPSIS " type=", 14);
            i = from = e + 6;
        } else {
            from = e > p + 5 ? e : p + 5;
        }
    }
    put(d, s + i, n - i);
}

/* <[^<>\s]*>  ->  <…> */
static void blank_angle(const unsigned char *s, size_t n, Text *d) {
    size_t i = 0, from = 0;
    while (from < n) {
        const unsigned char *f = memchr(s + from, '<', n - from);
        if (f == NULL) break;
        size_t p = (size_t)(f - s), e = p + 1;
        while (e < n && s[e] != '<' && s[e] != '>' && !re_space(s[e])) e++;
        if (e < n && s[e] == '>') {
            put(d, s + i, p - i);
            put(d, "<" ELLIPSIS ">", 5);
            i = from = e + 1;
        } else {
            from = e; /* nothing in between is a '<' */
        }
    }
    put(d, s + i, n - i);
}

/* \[?\b\d{1,3}(?:\.\d{1,3}){3}\b\]? at p: its end, or 0. Each group is a whole run of one to
 * three digits (a longer run leaves a digit where a dot or the boundary must be). */
static size_t ipv4_at(const unsigned char *s, size_t n, size_t p) {
    size_t q = p + (s[p] == '[');
    if (q >= n || !re_digit(s[q]) || (q > 0 && re_word(s[q - 1]))) return 0;
    for (int g = 0; g < 4; g++) {
        size_t start = q;
        while (q < n && re_digit(s[q]) && q - start < 3) q++;
        if (q == start || (q < n && re_digit(s[q]))) return 0;
        if (g < 3) {
            if (q >= n || s[q] != '.') return 0;
            q++;
        }
    }
    if (q < n && re_word(s[q])) return 0;
    return q + (q < n && s[q] == ']');
}

/* \[[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*\] at p (a '['): the bytes up to ']' are all hex, ':' or '.',
 * with a ':' before any '.'. Its end, or 0. */
static size_t ipv6_at(const unsigned char *s, size_t n, size_t p) {
    size_t q = p + 1;
    int colon = 0, dot_first = 0;
    while (q < n && (re_hex(s[q]) || s[q] == ':' || s[q] == '.')) {
        if (s[q] == ':') colon = 1;
        else if (s[q] == '.' && !colon) dot_first = 1;
        q++;
    }
    return q < n && s[q] == ']' && colon && !dot_first ? q + 1 : 0;
}

/* IPv4 (optionally bracketed) or bracketed IPv6  ->  […] */
static void blank_ip(const unsigned char *s, size_t n, Text *d) {
    size_t i = 0, p = 0;
    while (p < n) {
        if (!(RE_CLASS[s[p]] & RE_IP)) {
            p++;
            continue;
        }
        size_t m = ipv4_at(s, n, p);
        if (m == 0 && s[p] == '[') m = ipv6_at(s, n, p);
        if (m == 0) {
            p++;
            continue;
        }
        put(d, s + i, p - i);
        put(d, "[" ELLIPSIS "]", 5);
        i = p = m;
    }
    put(d, s + i, n - i);
}

/* \d{4}-\d\d-\d\dT[\d:.]+Z? at p: its end, or 0. */
static size_t stamp_at(const unsigned char *s, size_t n, size_t p) {
    if (n - p < 12) return 0;
    static const char shape[] = "dddd-dd-ddT";
    for (int k = 0; k < 11; k++)
        if (shape[k] == 'd' ? !re_digit(s[p + k]) : s[p + k] != (unsigned char)shape[k]) return 0;
    size_t q = p + 11;
    while (q < n && (re_digit(s[q]) || s[q] == ':' || s[q] == '.')) q++;
    if (q == p + 11) return 0;
    return q + (q < n && s[q] == 'Z');
}

/* A time stamp, a token of 14 or more [A-Za-z0-9+=_-], or a whole number of 4 digits or more
 * ->  … */
static void blank_long(const unsigned char *s, size_t n, Text *d) {
    size_t i = 0, p = 0, short_run = 0; /* the end of a run of tokens known to be short */
    while (p < n) {
        if (!re_token(s[p])) {
            p++;
            continue;
        }
        size_t m = re_digit(s[p]) ? stamp_at(s, n, p) : 0;
        if (m == 0 && p >= short_run) {
            /* A run shorter than 14 has no longer run inside it: measured once, from its start. */
            size_t q = p;
            while (q < n && re_token(s[q])) q++;
            if (q - p >= 14) m = q;
            else short_run = q;
        }
        if (m == 0 && re_digit(s[p]) && (p == 0 || !re_word(s[p - 1]))) {
            size_t q = p;
            while (q < n && re_digit(s[q])) q++;
            if (q - p >= 4 && (q == n || !re_word(s[q]))) m = q;
        }
        if (m == 0) {
            p++;
            continue;
        }
        put(d, s + i, p - i);
        put(d, ELLIPSIS, 3);
        i = p = m;
    }
    put(d, s + i, n - i);
}

/* \s\s+  ->  one space */
static void blank_spaces(const unsigned char *s, size_t n, Text *d) {
    size_t i = 0, p = 0;
    while (p + 1 < n) {
        if (!re_space(s[p + 1])) {
            p += 2; /* neither s[p]s[p+1] nor s[p+1]s[p+2] is a pair */
            continue;
        }
        if (!re_space(s[p])) {
            p++;
            continue;
        }
        size_t e = p + 2;
        while (e < n && re_space(s[e])) e++;
        put(d, s + i, p - i);
        d->p[d->n++] = ' ';
        i = p = e;
    }
    put(d, s + i, n - i);
}

typedef void (*Pass)(const unsigned char *, size_t, Text *);
static const Pass PASSES[] = {blank_host, blank_name, blank_angle, blank_ip, blank_long,
                              blank_spaces};

/* One text through the six passes, between two scratch buffers of 3n + 16 bytes each: no pass
 * more than 2.5 times a text ("<>" becomes "<…>") and what one pass writes, the later ones do
 * not grow. Returns the buffer holding the result. */
static Text blank_one(const unsigned char *s, size_t n, unsigned char *a, unsigned char *b) {
    Text in = {(unsigned char *)s, n}, out = {a, 0};
    for (size_t k = 0; k < sizeof(PASSES) / sizeof(PASSES[0]); k++) {
        PASSES[k](in.p, in.n, &out);
        in = out;
        out.p = out.p == a ? b : a;
        out.n = 0;
    }
    return in;
}

static const char blank_doc[] =
    "blank(offsets, data, offset, length) -> (offsets, data)\n\n"
    "The strings of an Arrow string array without nulls (its offsets and data buffers, its offset\n"
    "and length), each with the patterns of mailtrace.paths._BLANKS replaced in order; returned as\n"
    "the int32 offsets and the data of a new string array.";

static PyObject *blank(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer offsets = {0}, data = {0};
    Py_ssize_t offset, length;
    if (!PyArg_ParseTuple(args, "y*y*nn", &offsets, &data, &offset, &length)) return NULL;
    PyObject *result = NULL;
    unsigned char *out = NULL, *a = NULL, *b = NULL;
    int32_t *off_out = NULL;
    const int32_t *off = offsets.buf;
    if (!strings_fit(offset, length, off, offsets.len, data.len, -1)) {
        PyErr_SetString(PyExc_ValueError, "blank: buffers shorter than the array");
        goto done;
    }
    size_t longest = 0, total = (size_t)(off[offset + length] - off[offset]);
    for (Py_ssize_t i = offset; i < offset + length; i++)
        if ((size_t)(off[i + 1] - off[i]) > longest) longest = (size_t)(off[i + 1] - off[i]);
    size_t cap = 3 * total + 16, room = 3 * longest + 16;
    if (cap > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "blank: texts too long for one string array");
        goto done;
    }
    out = malloc(cap);
    a = malloc(room);
    b = malloc(room);
    off_out = malloc(((size_t)length + 1) * sizeof(int32_t));
    if (out == NULL || a == NULL || b == NULL || off_out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t used = 0;
    Py_BEGIN_ALLOW_THREADS;
    const unsigned char *base = data.buf;
    off_out[0] = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        size_t start = (size_t)off[offset + i], n = (size_t)off[offset + i + 1] - start;
        Text t = blank_one(base + start, n, a, b);
        memcpy(out + used, t.p, t.n);
        used += t.n;
        off_out[i + 1] = (int32_t)used;
    }
    Py_END_ALLOW_THREADS;
    result = Py_BuildValue("y#y#", (const char *)off_out,
                           (Py_ssize_t)(((size_t)length + 1) * sizeof(int32_t)), (const char *)out,
                           (Py_ssize_t)used);
done:
    free(out);
    free(a);
    free(b);
    free(off_out);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    return result;
}

/* --- gather: rows of a column of several chunks, as one array's buffers -------------------- */

static const char gather_doc[] =
    "gather(chunks, width, rows, alloc) -> (valid, nulls, offsets, data)\n\n"
    "Rows of an Arrow column of several chunks, as the buffers of one array, without joining the\n"
    "chunks first. chunks: per chunk (validity or None, offset, length, offsets or None, data),\n"
    "its Arrow buffers. width: 0 for strings and binary (int32 offsets given), else the byte\n"
    "width of fixed-size values (offsets None). rows: int64 per row wanted, a row of the chunks\n"
    "laid end to end, or -1 for a null. alloc(size) returns a writable buffer of size bytes (the\n"
    "caller's memory pool). Returns the buffers alloc made: the validity bitmap (None without a\n"
    "null), then the null count, the int32 offsets (None for fixed width) and the values.";

/* A writable buffer of at least size bytes from alloc, or NULL with an exception set. */
static PyObject *alloc_buffer(PyObject *alloc, Py_ssize_t size, Py_buffer *view) {
    PyObject *obj = PyObject_CallFunction(alloc, "n", size);
    if (obj == NULL) return NULL;
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE) < 0) {
        Py_DECREF(obj);
        return NULL;
    }
    if (view->len < size) {
        PyBuffer_Release(view);
        Py_DECREF(obj);
        PyErr_SetString(PyExc_ValueError, "gather: alloc gave a buffer too small");
        return NULL;
    }
    return obj;
}

/* One chunk of gather's column. */
typedef struct {
    Py_buffer valid, offsets, data;
    int have_valid, have_offsets;
    Py_ssize_t offset, length;
} Part;

static void parts_release(Part *parts, Py_ssize_t n) {
    for (Py_ssize_t k = 0; k < n; k++) {
        if (parts[k].have_valid) PyBuffer_Release(&parts[k].valid);
        if (parts[k].have_offsets) PyBuffer_Release(&parts[k].offsets);
        PyBuffer_Release(&parts[k].data);
    }
}

static PyObject *gather(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *list, *alloc, *result = NULL, *valid_out = NULL, *off_out = NULL, *data_out = NULL;
    int width;
    Py_buffer rows = {0}, valid_view = {0}, off_view = {0}, data_view = {0};
    if (!PyArg_ParseTuple(args, "O!iy*O", &PyList_Type, &list, &width, &rows, &alloc)) return NULL;
    Py_ssize_t nparts = PyList_GET_SIZE(list), ready = 0, n = rows.len / (Py_ssize_t)sizeof(int64_t);
    Part *parts = calloc((size_t)nparts + 1, sizeof(Part));
    int64_t *starts = malloc(((size_t)nparts + 1) * sizeof(int64_t));
    const char **src = malloc(((size_t)n + 1) * sizeof(char *));
    if (!parts || !starts || !src) {
        PyErr_NoMemory();
        goto done;
    }
    if (width < 0 || width > 16) {
        PyErr_SetString(PyExc_ValueError, "gather: width must be 0 (strings) to 16 bytes");
        goto done;
    }
    starts[0] = 0;
    for (; ready < nparts; ready++) {
        Part *c = &parts[ready];
        PyObject *valid, *offsets;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, ready), "OnnOy*", &valid, &c->offset,
                              &c->length, &offsets, &c->data))
            goto done;
        c->have_valid = valid != Py_None;
        if (c->have_valid && PyObject_GetBuffer(valid, &c->valid, PyBUF_SIMPLE) < 0) {
            c->have_valid = 0;
            ready++;
            goto done;
        }
        c->have_offsets = offsets != Py_None;
        if (c->have_offsets && PyObject_GetBuffer(offsets, &c->offsets, PyBUF_SIMPLE) < 0) {
            c->have_offsets = 0;
            ready++;
            goto done;
        }
        Py_ssize_t end = c->offset + c->length;
        /* The reads below are bounded by these sizes; each string's own offsets are checked
         * where it is read. */
        int bad = c->offset < 0 || c->length < 0 || c->have_offsets != (width == 0) ||
                  (c->have_valid && (end + 7) / 8 > c->valid.len) ||
                  (width == 0 && (end + 1) * 4 > c->offsets.len) ||
                  (width > 0 && end * width > c->data.len);
        starts[ready + 1] = starts[ready] + c->length;
        if (bad) {
            ready++;
            PyErr_SetString(PyExc_ValueError, "gather: buffers shorter than the chunk");
            goto done;
        }
    }
    if ((valid_out = alloc_buffer(alloc, (n + 7) / 8, &valid_view)) == NULL) goto done;
    if (width == 0 && (off_out = alloc_buffer(alloc, (n + 1) * 4, &off_view)) == NULL) goto done;
    const int64_t *at = rows.buf, total = starts[nparts];
    uint8_t *bits = valid_view.buf;
    int32_t *off = width == 0 ? off_view.buf : NULL;
    int64_t bytes = 0, nulls = 0;
    int failed = 0; /* 1: a row past the end; 2: offsets out of order; 3: over 2 GB of strings */
    memset(bits, 0, (size_t)(n + 7) / 8);
    Py_BEGIN_ALLOW_THREADS
    if (off) off[0] = 0;
    Py_ssize_t k = 0; /* the chunk of the last row: rows wanted mostly ascend */
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t r = at[i];
        const char *p = NULL;
        int32_t len = 0;
        if (r >= total) {
            failed = 1;
            break;
        }
        if (r >= 0) {
            if (r < starts[k] || r >= starts[k + 1]) {
                Py_ssize_t lo = 0, hi = nparts; /* the last chunk starting at or before r */
                while (hi - lo > 1) {
                    Py_ssize_t mid = (lo + hi) / 2;
                    if (starts[mid] <= r) lo = mid; else hi = mid;
                }
                k = lo;
                while (starts[k + 1] <= r) k++; /* past empty chunks */
            }
            const Part *c = &parts[k];
            int64_t j = r - starts[k] + c->offset;
            const uint8_t *vb = c->valid.buf;
            if (!c->have_valid || (vb[j >> 3] >> (j & 7)) & 1) {
                if (width == 0) {
                    const int32_t *o = c->offsets.buf;
                    if (o[j] < 0 || o[j + 1] < o[j] || o[j + 1] > c->data.len) {
                        failed = 2;
                        break;
                    }
                    p = (const char *)c->data.buf + o[j];
                    len = o[j + 1] - o[j];
                } else {
                    p = (const char *)c->data.buf + j * width;
                }
            }
        }
        src[i] = p;
        if (p != NULL) bits[i >> 3] |= (uint8_t)(1u << (i & 7));
        else nulls++;
        if (off) {
            bytes += len;
            if (bytes > INT32_MAX) {
                failed = 3;
                break;
            }
            off[i + 1] = (int32_t)bytes;
        }
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(failed == 1 ? PyExc_IndexError : failed == 2 ? PyExc_ValueError
                                                                     : PyExc_OverflowError,
                        failed == 1   ? "gather: row out of bounds"
                        : failed == 2 ? "gather: string offsets out of order"
                                      : "gather: over 2 GB of strings for int32 offsets");
        goto done;
    }
    data_out = alloc_buffer(alloc, width == 0 ? bytes : n * width, &data_view);
    if (data_out == NULL) goto done;
    char *out = data_view.buf;
    Py_BEGIN_ALLOW_THREADS
    if (width == 0) {
        for (Py_ssize_t i = 0; i < n; i++)
            if (src[i]) memcpy(out + off[i], src[i], (size_t)(off[i + 1] - off[i]));
    } else if (width == 8) {
        for (Py_ssize_t i = 0; i < n; i++) {
            uint64_t v = 0;
            if (src[i]) memcpy(&v, src[i], 8);
            memcpy(out + i * 8, &v, 8);
        }
    } else if (width == 4) {
        for (Py_ssize_t i = 0; i < n; i++) {
            uint32_t v = 0;
            if (src[i]) memcpy(&v, src[i], 4);
            memcpy(out + i * 4, &v, 4);
        }
    } else {
        for (Py_ssize_t i = 0; i < n; i++) {
            if (src[i]) memcpy(out + i * width, src[i], (size_t)width);
            else memset(out + i * width, 0, (size_t)width);
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("OLOO", nulls ? valid_out : Py_None, (long long)nulls,
                           off_out ? off_out : Py_None, data_out);
done:
    if (valid_out) PyBuffer_Release(&valid_view);
    if (off_out) PyBuffer_Release(&off_view);
    if (data_out) PyBuffer_Release(&data_view);
    Py_XDECREF(valid_out);
    Py_XDECREF(off_out);
    Py_XDECREF(data_out);
    if (parts) parts_release(parts, ready);
    free(parts);
    free(starts);
    free(src);
    PyBuffer_Release(&rows);
    return result;
}

static PyMethodDef methods[] = {
    {"file_rows", file_rows, METH_VARARGS, file_rows_doc},
    {"factorize", factorize, METH_VARARGS, factorize_doc},
    {"attempts", attempts, METH_VARARGS, attempts_doc},
    {"blank", blank, METH_VARARGS, blank_doc},
    {"gather", gather, METH_VARARGS, gather_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_pathcore",
    "Queue files, attempts and string values numbered, replies blanked and rows gathered, for "
    "the delivery paths (see queue_files.py, paths.normalize_reasons and column_take.py).",
    -1,
    methods,
};

PyMODINIT_FUNC PyInit__pathcore(void) {
    init_re_class();
    return PyModule_Create(&module);
}

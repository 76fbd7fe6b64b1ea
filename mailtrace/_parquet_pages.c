/* The bodies of Parquet data pages, encoded straight from the buffers of an Arrow array.
 *
 * Why this exists: writing EVENTS with pyarrow's ParquetWriter costs about 0.8 CPU-s per million
 * rows, more than parsing them (0.55 CPU-s in mailtrace/logs/_fastlog.c), and it was the larger
 * half of `mailtrace logs -o`. Most of that is generic machinery this table does not need: the
 * definition levels are expanded to one int16 a row and re-encoded, every value of ~20
 * dictionary columns is hashed. For a flat nullable column whose maximum definition level is 1
 * the levels, bit-packed at width 1, are the Arrow validity bitmap itself, and PLAIN values are
 * the non-null values laid end to end, so a page body is two copies. polars (1.6 CPU-s) and DuckDB
 * (1.9 CPU-s) write the same table more slowly than pyarrow.
 *
 * Only the page bodies are made here. mailtrace/parquet_write.py compresses them (snappy, through
 * pyarrow), writes the Thrift page headers and a footer whose schema pyarrow itself produced, and
 * falls back to pyarrow's writer for any column type or size this file does not take.
 *
 * The format (parquet-format, Encodings.md): a data page v1 body is the definition levels, as a
 * 4-byte little-endian length and the RLE/bit-packing hybrid encoding, followed by the non-null
 * values. PLAIN BYTE_ARRAY is a 4-byte little-endian length and the bytes; PLAIN INT32, INT64 and
 * DOUBLE are little-endian fixed-width values (int16 is widened to INT32, as Arrow does).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>
#include "_ends.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "PLAIN values are written by copying memory, which needs a little-endian machine"
#endif

/* The value kinds: how the Arrow buffer is laid out and which Parquet type it becomes. */
enum { K_BYTE_ARRAY, K_INT16_AS_INT32, K_INT32, K_INT64, K_DOUBLE, NKINDS };

/* A bit-packed run holds at most 63 groups of 8 levels, so its header is one byte, as pyarrow's
 * own runs are: any reader handles those. */
#define GROUPS_PER_RUN 63

static inline int bit(const uint8_t *bitmap, Py_ssize_t i) { return (bitmap[i >> 3] >> (i & 7)) & 1; }

/* The levels of rows [offset, offset + length) as bit-packed runs of width 1; returns the bytes
 * written (the caller sized out with levels_size). */
static Py_ssize_t put_levels(uint8_t *out, const uint8_t *validity, Py_ssize_t offset,
                             Py_ssize_t length) {
    uint8_t *start = out;
    Py_ssize_t groups = (length + 7) / 8;
    for (Py_ssize_t g = 0; g < groups;) {
        Py_ssize_t run = groups - g < GROUPS_PER_RUN ? groups - g : GROUPS_PER_RUN;
        *out++ = (uint8_t)(run << 1 | 1);
        if ((offset & 7) == 0) {
            memcpy(out, validity + (offset >> 3) + g, (size_t)run);
        } else {
            Py_ssize_t first = offset + g * 8;  /* a slice: shift the bits into place */
            for (Py_ssize_t b = 0; b < run; b++) {
                uint8_t byte = 0;
                for (int k = 0; k < 8; k++) byte |= (uint8_t)(bit(validity, first + b * 8 + k) << k);
                out[b] = byte;
            }
        }
        out += run;
        g += run;
    }
    if (length & 7) out[-1] &= (uint8_t)((1u << (length & 7)) - 1);  /* no levels past the end */
    return out - start;
}

static Py_ssize_t levels_size(Py_ssize_t length, Py_ssize_t nulls) {
    if (nulls == 0) return 4 + 11;  /* one RLE run: a varint of at most 10 bytes and the level */
    Py_ssize_t groups = (length + 7) / 8;
    return 4 + groups + (groups + GROUPS_PER_RUN - 1) / GROUPS_PER_RUN;
}

/* One RLE run of `length` levels of 1; returns the bytes written. */
static Py_ssize_t put_all_valid(uint8_t *out, Py_ssize_t length) {
    uint8_t *start = out;
    uint64_t header = (uint64_t)length << 1;
    while (header >= 0x80) {
        *out++ = (uint8_t)(header | 0x80);
        header >>= 7;
    }
    *out++ = (uint8_t)header;
    *out++ = 1;
    return out - start;
}

static const Py_ssize_t WIDTH[NKINDS] = {0, 2, 4, 8, 8};

typedef struct {
    int has_min;
    int64_t imin, imax;                /* integer kinds */
    const uint8_t *smin, *smax;        /* byte arrays */
    int32_t smin_len, smax_len;
} MinMax;

/* Account for one more value in a column chunk's statistics. */
static inline void minmax_int(MinMax *mm, int64_t v) {
    if (!mm->has_min) {
        mm->has_min = 1;
        mm->imin = mm->imax = v;
    } else if (v < mm->imin) {
        mm->imin = v;
    } else if (v > mm->imax) {
        mm->imax = v;
    }
}

static inline int less_bytes(const uint8_t *a, int32_t alen, const uint8_t *b, int32_t blen) {
    /* Most pairs differ in their first byte: decide those without calling memcmp. */
    if (alen && blen && a[0] != b[0]) return a[0] < b[0];
    int c = memcmp(a, b, (size_t)(alen < blen ? alen : blen));
    return c < 0 || (c == 0 && alen < blen);  /* unsigned byte order, Parquet's for UTF8 */
}

static inline void minmax_bytes(MinMax *mm, const uint8_t *s, int32_t len) {
    if (!mm->has_min) {
        mm->has_min = 1;
        mm->smin = mm->smax = s;
        mm->smin_len = mm->smax_len = len;
    } else if (less_bytes(s, len, mm->smin, mm->smin_len)) {
        mm->smin = s;
        mm->smin_len = len;
    } else if (less_bytes(mm->smax, mm->smax_len, s, len)) {
        mm->smax = s;
        mm->smax_len = len;
    }
}

/* Bytes of slack the scratch buffer keeps past a body, so that short strings are copied 16
 * bytes at a time rather than through a memcpy call of their exact length. */
#define SLACK 16

static int64_t int_at(int kind, const uint8_t *data, Py_ssize_t i) {
    if (kind == K_INT16_AS_INT32) return ((const int16_t *)data)[i];
    if (kind == K_INT32) return ((const int32_t *)data)[i];
    return ((const int64_t *)data)[i];
}

static const char encode_doc[] =
    "encode(kind, validity, offset, length, values, data, stats, scratch)\n"
    "    -> (size, nulls, min, max)\n\n"
    "Writes to scratch[:size] (a bytearray, grown if too small) the body of a data page v1\n"
    "(definition levels, then PLAIN values) for rows [offset, offset + length) of an Arrow\n"
    "array, and returns its size and their null count. kind: 0 string (int32\n"
    "offsets in values, bytes in data), 1 int16, 2 int32, 3 int64 or timestamp, 4 double\n"
    "(values: the data buffer; data: None). validity: the bitmap, or None when no value is\n"
    "null. stats: also return the minimum and maximum non-null value, PLAIN-encoded (None\n"
    "when all are null; not for doubles).";

/* The rows of [start, end) whose validity bit is set, in order, a word of the bitmap at a time:
 * skipping a null costs no branch of its own (the columns here are mostly null, and a test per
 * row mispredicted whenever the nulls did not follow a pattern). bits == NULL: every row. */
typedef struct {
    const uint8_t *bits;
    Py_ssize_t nbytes, end, base;
    uint64_t word;
} SetBits;

static inline uint64_t load_word(const uint8_t *bits, Py_ssize_t nbytes, Py_ssize_t w) {
    if (bits == NULL) return ~0ull;
    uint64_t x = 0;
    Py_ssize_t at = w * 8;
    if (at + 8 <= nbytes)
        memcpy(&x, bits + at, 8);
    else
        for (Py_ssize_t k = 0; at + k < nbytes; k++) x |= (uint64_t)bits[at + k] << (8 * k);
    return x;
}

static inline void setbits_start(SetBits *it, const uint8_t *bits, Py_ssize_t nbytes,
                                 Py_ssize_t start, Py_ssize_t end) {
    it->bits = bits;
    it->nbytes = nbytes;
    it->end = end;
    it->base = start & ~(Py_ssize_t)63;
    it->word = start < end ? load_word(bits, nbytes, start >> 6) & (~0ull << (start & 63)) : 0;
}

/* The next row whose bit is set, or -1 past the end. */
static inline Py_ssize_t setbits_next(SetBits *it) {
    while (it->word == 0) {
        it->base += 64;
        if (it->base >= it->end) return -1;
        it->word = load_word(it->bits, it->nbytes, it->base >> 6);
    }
    Py_ssize_t i = it->base + __builtin_ctzll(it->word);
    if (i >= it->end) return -1;
    it->word &= it->word - 1;
    return i;
}

/* The number of set bits in bitmap[offset, offset + length). */
static Py_ssize_t count_set(const uint8_t *bitmap, Py_ssize_t offset, Py_ssize_t length) {
    Py_ssize_t count = 0, i = offset, end = offset + length;
    for (; i < end && (i & 63); i++) count += bit(bitmap, i);
    for (; i + 64 <= end; i += 64) {
        uint64_t word;
        memcpy(&word, bitmap + (i >> 3), 8);
        count += __builtin_popcountll(word);
    }
    for (; i < end; i++) count += bit(bitmap, i);
    return count;
}

/* The rows [offset, offset + length) of an Arrow array, as its buffers: what every encoder
 * below starts from. */
typedef struct {
    Py_buffer validity, values, data; /* data: the bytes of a string array only */
    Py_ssize_t offset, length, nulls;
    const uint8_t *bitmap; /* the validity bitmap, or NULL when no row is null */
} Rows;

/* Take the buffers of rows [offset, offset + length) and check them against each other.
 * `width`: the bytes of a fixed-width value, or 0 for strings (int32 offsets in values, bytes
 * in data). Returns 0, or -1 with an exception set; rows_release() either way. */
static int rows_take(Rows *r, PyObject *validity, PyObject *values, PyObject *data,
                     Py_ssize_t offset, Py_ssize_t length, Py_ssize_t width) {
    memset(r, 0, sizeof(*r));
    r->offset = offset;
    r->length = length;
    if (length < 0 || offset < 0) {
        PyErr_SetString(PyExc_ValueError, "bad page arguments");
        return -1;
    }
    if (validity != Py_None && PyObject_GetBuffer(validity, &r->validity, PyBUF_SIMPLE) < 0)
        return -1;
    if (PyObject_GetBuffer(values, &r->values, PyBUF_SIMPLE) < 0) return -1;
    if (width == 0 && PyObject_GetBuffer(data, &r->data, PyBUF_SIMPLE) < 0) return -1;
    if ((r->validity.buf && r->validity.len * 8 < offset + length) ||
        (width == 0 ? r->values.len < (offset + length + 1) * 4
                    : r->values.len < (offset + length) * width)) {
        PyErr_SetString(PyExc_ValueError, "the buffers are shorter than the rows");
        return -1;
    }
    if (width == 0) {
        const int32_t *offsets = r->values.buf;
        if (offsets[offset] < 0 || offsets[offset] > offsets[offset + length] ||
            offsets[offset + length] > r->data.len) {
            PyErr_SetString(PyExc_ValueError, "string offsets outside the data");
            return -1;
        }
    }
    if (r->validity.buf) r->nulls = length - count_set(r->validity.buf, offset, length);
    r->bitmap = r->nulls ? r->validity.buf : NULL;
    return 0;
}

static void rows_release(Rows *r) {
    if (r->validity.buf) PyBuffer_Release(&r->validity);
    if (r->values.buf) PyBuffer_Release(&r->values);
    if (r->data.buf) PyBuffer_Release(&r->data);
}

/* The caller's bytearray `scratch` as a writable buffer of at least `size` bytes (plus SLACK):
 * grown when too small and otherwise reused, since fresh memory for every page costs more in
 * page faults than the encoding itself. Returns 0, or -1 with an exception set. */
static int scratch_buffer(PyObject *scratch, Py_ssize_t size, Py_buffer *out) {
    if (size > INT32_MAX) { /* a page's size is an i32 in its header */
        PyErr_SetString(PyExc_OverflowError, "a page of more than 2 GiB");
        return -1;
    }
    if (PyByteArray_GET_SIZE(scratch) < size + SLACK &&
        PyByteArray_Resize(scratch, size + SLACK) < 0)
        return -1;
    return PyObject_GetBuffer(scratch, out, PyBUF_WRITABLE);
}

/* The definition levels of the rows, after their 4-byte length; returns where values go. */
static uint8_t *put_level_block(uint8_t *out, const Rows *r) {
    Py_ssize_t levels = r->bitmap ? put_levels(out + 4, r->bitmap, r->offset, r->length)
                                  : put_all_valid(out + 4, r->length);
    uint32_t levels32 = (uint32_t)levels;
    memcpy(out, &levels32, 4);
    return out + 4 + levels;
}

static PyObject *encode(PyObject *self, PyObject *args) {
    (void)self;
    int kind, stats;
    Py_ssize_t length, offset;
    PyObject *validity_obj, *values_obj, *data_obj, *scratch;
    if (!PyArg_ParseTuple(args, "iOnnOOpY", &kind, &validity_obj, &offset, &length, &values_obj,
                          &data_obj, &stats, &scratch))
        return NULL;
    if (kind < 0 || kind >= NKINDS) {
        PyErr_SetString(PyExc_ValueError, "bad page arguments");
        return NULL;
    }
    if (stats && kind == K_DOUBLE) {
        PyErr_SetString(PyExc_ValueError, "no statistics for doubles (NaN has no order)");
        return NULL;
    }
    Rows rows;
    Py_buffer body = {0};
    PyObject *result = NULL;
    if (rows_take(&rows, validity_obj, values_obj, data_obj, offset, length, WIDTH[kind]) < 0)
        goto done;
    Py_buffer validity = rows.validity, values = rows.values, data = rows.data;
    Py_ssize_t nulls = rows.nulls;
    const uint8_t *bitmap = rows.bitmap;
    const int32_t *offsets = values.buf;

    /* The body's size: levels, then values (for strings, the bytes of the non-null ones). */
    Py_ssize_t valid = length - nulls, size = levels_size(length, nulls);
    if (kind == K_BYTE_ARRAY) {
        int64_t bytes = 0;
        if (!bitmap) {
            bytes = (int64_t)offsets[offset + length] - offsets[offset];
        } else {
            SetBits it;
            setbits_start(&it, bitmap, validity.len, offset, offset + length);
            for (Py_ssize_t i; (i = setbits_next(&it)) >= 0;) bytes += offsets[i + 1] - offsets[i];
        }
        size += valid * 4 + (Py_ssize_t)bytes;
    } else {
        size += valid * (kind == K_INT16_AS_INT32 ? 4 : WIDTH[kind]);
    }
    if (scratch_buffer(scratch, size, &body) < 0) goto done;

    uint8_t *out = body.buf;
    MinMax mm = {0};
    uint8_t *p;
    Py_BEGIN_ALLOW_THREADS
    p = put_level_block(out, &rows);
    if (kind == K_BYTE_ARRAY) {
        const uint8_t *bytes = data.buf;
        Py_ssize_t readable = data.len - SLACK;  /* where 16-byte reads may start */
        SetBits it;
        setbits_start(&it, bitmap, validity.len, offset, offset + length);
        for (Py_ssize_t i; (i = setbits_next(&it)) >= 0;) {
            int32_t len = offsets[i + 1] - offsets[i];
            const uint8_t *s = bytes + offsets[i];
            memcpy(p, &len, 4);
            if (len <= SLACK && offsets[i] <= readable)
                memcpy(p + 4, s, SLACK);  /* a fixed size: inlined; the excess is overwritten */
            else
                memcpy(p + 4, s, (size_t)len);
            p += 4 + len;
            if (stats) minmax_bytes(&mm, s, len);
        }
    } else if (!bitmap && (kind == K_DOUBLE || (kind != K_INT16_AS_INT32 && !stats))) {
        /* Same width in and out, no nulls: one copy. */
        Py_ssize_t w = WIDTH[kind];
        memcpy(p, (const uint8_t *)values.buf + offset * w, (size_t)(length * w));
        p += length * w;
    } else if (kind == K_DOUBLE || (kind != K_INT16_AS_INT32 && !stats)) {
        /* Same width in and out: each valid value copied as one fixed-size move. */
        Py_ssize_t w = WIDTH[kind];
        const uint8_t *src = values.buf;
        SetBits it;
        setbits_start(&it, bitmap, validity.len, offset, offset + length);
        for (Py_ssize_t i; (i = setbits_next(&it)) >= 0; p += w) {
            if (w == 8)
                memcpy(p, src + i * 8, 8);
            else
                memcpy(p, src + i * 4, 4);
        }
    } else {
        SetBits it;
        setbits_start(&it, bitmap, validity.len, offset, offset + length);
        for (Py_ssize_t i; (i = setbits_next(&it)) >= 0;) {
            int64_t v = int_at(kind, values.buf, i);
            if (kind == K_INT64) {
                memcpy(p, &v, 8);
                p += 8;
            } else {
                int32_t v32 = (int32_t)v;
                memcpy(p, &v32, 4);
                p += 4;
            }
            if (stats) minmax_int(&mm, v);
        }
    }
    Py_END_ALLOW_THREADS

    size = p - out;  /* the levels were sized for the worst case */
    if (!stats || !mm.has_min) {
        result = Py_BuildValue("(nnOO)", size, nulls, Py_None, Py_None);
    } else if (kind == K_BYTE_ARRAY) {
        result = Py_BuildValue("(nny#y#)", size, nulls, (const char *)mm.smin,
                               (Py_ssize_t)mm.smin_len, (const char *)mm.smax,
                               (Py_ssize_t)mm.smax_len);
    } else if (kind == K_INT64) {
        result = Py_BuildValue("(nny#y#)", size, nulls, (const char *)&mm.imin, (Py_ssize_t)8,
                               (const char *)&mm.imax, (Py_ssize_t)8);
    } else {
        int32_t lo = (int32_t)mm.imin, hi = (int32_t)mm.imax;
        result = Py_BuildValue("(nny#y#)", size, nulls, (const char *)&lo, (Py_ssize_t)4,
                               (const char *)&hi, (Py_ssize_t)4);
    }

done:
    if (body.buf) PyBuffer_Release(&body);
    rows_release(&rows);
    return result;
}

/* ----------------------------------------------------------------------------------------- */
/* Dictionary encoding of string columns with few distinct values.
 *
 * Why: the columns that name a host, a program, an event kind or the input file repeat a few
 * dozen strings a million times: 67 of the 175 MB of PLAIN pages of the million-line benchmark,
 * every byte of it copied and then snappy-compressed. As a dictionary page (each distinct value
 * once, PLAIN) and indices of a few bits each, those columns cost a hash per value instead, and
 * readers get the dictionary pages pyarrow itself writes for them.
 *
 * The data page body is the definition levels as above, then the indices: one byte of bit width
 * and the RLE/bit-packing hybrid (one RLE run when every value is the same, else bit-packed
 * groups of 8, the last padded with zeros). */

#define DICT_MAX 4096
#define DICT_SLOTS (DICT_MAX * 2)

typedef struct {
    const uint8_t *p;
    int32_t n;
    int32_t index; /* -1: empty slot */
    uint64_t head, tail;
} Entry;


static inline int same(const Entry *e, const uint8_t *p, int32_t n, uint64_t head, uint64_t tail) {
    return ends_equal(e->p, e->n, e->head, e->tail, p, n, head, tail);
}

static Py_ssize_t put_varint(uint8_t *out, uint64_t v) {
    Py_ssize_t k = 0;
    while (v >= 0x80) {
        out[k++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[k++] = (uint8_t)v;
    return k;
}

static const char encode_dict_doc[] =
    "encode_dict(validity, offset, length, values, data, stats, dictionary, body)\n"
    "    -> (dictionary size, distinct, body size, nulls, min, max) or None\n\n"
    "For rows [offset, offset + length) of an Arrow string array (as encode takes it), writes\n"
    "the PLAIN body of a dictionary page of its distinct values, in the order first seen, to\n"
    "dictionary[:size] and the body of a data page v1 encoded RLE_DICTIONARY (definition\n"
    "levels, then the indices) to body[:size] (bytearrays, grown as needed). None when the\n"
    "rows hold more than 4096 distinct values: then encode writes them PLAIN.";

static PyObject *encode_dict(PyObject *self, PyObject *args) {
    (void)self;
    int stats;
    Py_ssize_t length, offset;
    PyObject *validity_obj, *values_obj, *data_obj, *dict_obj, *body_obj;
    if (!PyArg_ParseTuple(args, "OnnOOpYY", &validity_obj, &offset, &length, &values_obj,
                          &data_obj, &stats, &dict_obj, &body_obj))
        return NULL;
    Rows rows;
    Py_buffer dict = {0}, body = {0};
    PyObject *result = NULL;
    Entry *slots = NULL;
    int32_t *indices = NULL;
    if (rows_take(&rows, validity_obj, values_obj, data_obj, offset, length, 0) < 0) goto done;
    Py_buffer validity = rows.validity, data = rows.data;
    const int32_t *offsets = rows.values.buf;
    Py_ssize_t nulls = rows.nulls;
    const uint8_t *bitmap = rows.bitmap;
    Py_ssize_t valid = length - nulls;
    slots = malloc(DICT_SLOTS * sizeof(Entry));
    indices = malloc((size_t)(valid + 8) * sizeof(int32_t));
    if (slots == NULL || indices == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Entry *order[DICT_MAX]; /* the distinct values, by index */
    int32_t distinct = 0;
    int64_t dict_bytes = 0;
    int overflow = 0;
    const uint8_t *bytes = data.buf, *limit = (const uint8_t *)data.buf + data.len;
    Py_BEGIN_ALLOW_THREADS
    for (size_t k = 0; k < DICT_SLOTS; k++) slots[k].index = -1;
    Entry *last = NULL;
    Py_ssize_t v = 0;
    SetBits it;
    setbits_start(&it, bitmap, validity.len, offset, offset + length);
    for (Py_ssize_t i; (i = setbits_next(&it)) >= 0;) {
        const uint8_t *s = bytes + offsets[i];
        int32_t n = offsets[i + 1] - offsets[i];
        uint64_t head, tail;
        ends_of(s, n, limit, &head, &tail);
        if (last == NULL || !same(last, s, n, head, tail)) {
            size_t at = (size_t)(ends_hash(n, head, tail) >> 40) & (DICT_SLOTS - 1);
            while (slots[at].index >= 0 && !same(&slots[at], s, n, head, tail))
                at = (at + 1) & (DICT_SLOTS - 1);
            if (slots[at].index < 0) {
                if (distinct == DICT_MAX) {
                    overflow = 1;
                    break;
                }
                slots[at] = (Entry){s, n, distinct, head, tail};
                order[distinct++] = &slots[at];
                dict_bytes += 4 + n;
            }
            last = &slots[at];
        }
        indices[v++] = last->index;
    }
    Py_END_ALLOW_THREADS
    if (overflow) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    int width = 1;
    while (width < 31 && ((int64_t)1 << width) < distinct) width++;
    int all_same = 1;
    for (Py_ssize_t k = 1; k < valid && all_same; k++) all_same = indices[k] == indices[0];
    Py_ssize_t groups = (valid + 7) / 8;
    Py_ssize_t index_bytes =
        1 + (all_same ? 10 + 4 : groups * width + (groups + GROUPS_PER_RUN - 1) / GROUPS_PER_RUN);
    Py_ssize_t size = levels_size(length, nulls) + index_bytes;
    if (dict_bytes > INT32_MAX || size > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a page of more than 2 GiB");
        goto done;
    }
    if ((PyByteArray_GET_SIZE(dict_obj) < dict_bytes + 1 &&
         PyByteArray_Resize(dict_obj, (Py_ssize_t)dict_bytes + 1) < 0) ||
        (PyByteArray_GET_SIZE(body_obj) < size && PyByteArray_Resize(body_obj, size) < 0))
        goto done;
    if (PyObject_GetBuffer(dict_obj, &dict, PyBUF_WRITABLE) < 0 ||
        PyObject_GetBuffer(body_obj, &body, PyBUF_WRITABLE) < 0)
        goto done;
    uint8_t *out = body.buf, *p;
    MinMax mm = {0};
    Py_BEGIN_ALLOW_THREADS
    /* The dictionary page: each distinct value, PLAIN; and the range of the values. */
    uint8_t *d = dict.buf;
    for (int32_t k = 0; k < distinct; k++) {
        const Entry *e = order[k];
        memcpy(d, &e->n, 4);
        memcpy(d + 4, e->p, (size_t)e->n);
        d += 4 + e->n;
        if (stats) minmax_bytes(&mm, e->p, e->n);
    }
    /* The data page: levels, then the bit width and the indices. */
    p = put_level_block(out, &rows);
    *p++ = (uint8_t)width;
    if (valid == 0) {
        /* no values: nothing follows the width */
    } else if (all_same) {
        p += put_varint(p, (uint64_t)valid << 1);
        for (int b = 0; b < (width + 7) / 8; b++) *p++ = (uint8_t)(indices[0] >> (8 * b));
    } else {
        for (Py_ssize_t k = valid; k < groups * 8; k++) indices[k] = 0; /* the padding */
        for (Py_ssize_t g = 0; g < groups;) {
            Py_ssize_t run = groups - g < GROUPS_PER_RUN ? groups - g : GROUPS_PER_RUN;
            *p++ = (uint8_t)(run << 1 | 1);
            /* run * 8 values of `width` bits, least significant bit first */
            uint64_t acc = 0;
            int held = 0;
            for (Py_ssize_t k = g * 8; k < (g + run) * 8; k++) {
                acc |= (uint64_t)(uint32_t)indices[k] << held;
                held += width;
                while (held >= 8) {
                    *p++ = (uint8_t)acc;
                    acc >>= 8;
                    held -= 8;
                }
            }
            g += run; /* 8 values fill whole bytes: nothing is left in acc */
        }
    }
    Py_END_ALLOW_THREADS
    size = p - out;
    if (!stats || !mm.has_min) {
        result = Py_BuildValue("(ninnOO)", (Py_ssize_t)dict_bytes, (int)distinct, size, nulls,
                               Py_None, Py_None);
    } else {
        result = Py_BuildValue("(ninny#y#)", (Py_ssize_t)dict_bytes, (int)distinct, size, nulls,
                               (const char *)mm.smin, (Py_ssize_t)mm.smin_len,
                               (const char *)mm.smax, (Py_ssize_t)mm.smax_len);
    }

done:
    free(slots);
    free(indices);
    if (dict.buf) PyBuffer_Release(&dict);
    if (body.buf) PyBuffer_Release(&body);
    rows_release(&rows);
    return result;
}

/* ----------------------------------------------------------------------------------------- */
/* DELTA_BINARY_PACKED for int64 columns that grow steadily (line numbers, timestamps).
 *
 * Why: PLAIN, a million line numbers are 8 MB that snappy halves, and timestamps 8 MB it cuts
 * to a fifth: 0.024 CPU-s of the million-line benchmark. As deltas (Encodings.md) they are a few
 * bits a value, written at a few ns each. Layout: a header (block size 128, 4 miniblocks of 32,
 * the value count, the first value zigzagged), then per block the smallest delta (zigzag), the
 * four miniblocks' bit widths and the miniblocks, each 32 values of delta - smallest bit-packed
 * least significant bit first (the last padded with zeros; widths of unneeded miniblocks 0). */

#define DELTA_BLOCK 128
#define DELTA_MINIBLOCKS 4
#define DELTA_MINI (DELTA_BLOCK / DELTA_MINIBLOCKS)

static Py_ssize_t put_zigzag(uint8_t *out, int64_t v) {
    return put_varint(out, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* Pack 32 values of `width` bits, least significant bit first; returns the bytes written. */
static Py_ssize_t pack32(uint8_t *out, const uint64_t *v, int width) {
    if (width == 0) return 0;
    uint8_t *start = out;
    if (width <= 32) { /* the common case: 32 bits flushed at a time, one branch a value */
        uint64_t acc = 0;
        int held = 0;
        for (int k = 0; k < DELTA_MINI; k++) {
            acc |= v[k] << held;
            held += width;
            if (held >= 32) {
                uint32_t word = (uint32_t)acc;
                memcpy(out, &word, 4);
                out += 4;
                acc >>= 32;
                held -= 32;
            }
        }
        return out - start; /* 32 values of `width` bits: a whole number of 32-bit words */
    }
    if (width <= 56) { /* a 64-bit accumulator never overflows */
        uint64_t acc = 0;
        int held = 0;
        for (int k = 0; k < DELTA_MINI; k++) {
            acc |= v[k] << held;
            held += width;
            while (held >= 8) {
                *out++ = (uint8_t)acc;
                acc >>= 8;
                held -= 8;
            }
        }
        return out - start;
    }
    unsigned __int128 acc = 0;
    int held = 0;
    for (int k = 0; k < DELTA_MINI; k++) {
        acc |= (unsigned __int128)v[k] << held;
        held += width;
        while (held >= 8) {
            *out++ = (uint8_t)acc;
            acc >>= 8;
            held -= 8;
        }
    }
    return out - start; /* 32 values fill whole bytes */
}

static const char encode_delta_doc[] =
    "encode_delta(validity, offset, length, values, stats, scratch) -> (size, nulls, min, max)\n\n"
    "As encode for an int64 array (kind 3), its values DELTA_BINARY_PACKED.";

static PyObject *encode_delta(PyObject *self, PyObject *args) {
    (void)self;
    int stats;
    Py_ssize_t length, offset;
    PyObject *validity_obj, *values_obj, *scratch;
    if (!PyArg_ParseTuple(args, "OnnOpY", &validity_obj, &offset, &length, &values_obj, &stats,
                          &scratch))
        return NULL;
    Rows rows;
    Py_buffer body = {0};
    PyObject *result = NULL;
    int64_t *picked = NULL;
    if (rows_take(&rows, validity_obj, values_obj, Py_None, offset, length, 8) < 0) goto done;
    Py_buffer validity = rows.validity, values = rows.values;
    Py_ssize_t nulls = rows.nulls;
    const uint8_t *bitmap = rows.bitmap;
    Py_ssize_t valid = length - nulls;
    /* Worst case: the header, then per block a 10-byte delta, 4 widths and 128 values of 64 bits */
    Py_ssize_t blocks = (valid + DELTA_BLOCK - 1) / DELTA_BLOCK;
    Py_ssize_t size = levels_size(length, nulls) + 40 + blocks * (10 + 4 + DELTA_BLOCK * 8);
    if (scratch_buffer(scratch, size, &body) < 0) goto done;
    picked = malloc((size_t)(valid + 1) * sizeof(int64_t));
    if (picked == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    uint8_t *out = body.buf, *p;
    MinMax mm = {0};
    Py_BEGIN_ALLOW_THREADS
    p = put_level_block(out, &rows);
    const int64_t *src = values.buf;
    Py_ssize_t got = 0;
    SetBits it;
    setbits_start(&it, bitmap, validity.len, offset, offset + length);
    for (Py_ssize_t i; (i = setbits_next(&it)) >= 0;) picked[got++] = src[i];
    if (stats)
        for (Py_ssize_t k = 0; k < got; k++) minmax_int(&mm, picked[k]);
    p += put_varint(p, DELTA_BLOCK);
    p += put_varint(p, DELTA_MINIBLOCKS);
    p += put_varint(p, (uint64_t)got);
    p += put_zigzag(p, got ? picked[0] : 0);
    for (Py_ssize_t first = 1; first < got; first += DELTA_BLOCK) {
        Py_ssize_t n = got - first < DELTA_BLOCK ? got - first : DELTA_BLOCK;
        uint64_t delta[DELTA_BLOCK];
        int64_t least = INT64_MAX;
        for (Py_ssize_t k = 0; k < n; k++) {
            /* wrapping subtraction, as the format's deltas are */
            int64_t d = (int64_t)((uint64_t)picked[first + k] - (uint64_t)picked[first + k - 1]);
            delta[k] = (uint64_t)d;
            if (d < least) least = d;
        }
        p += put_zigzag(p, least);
        uint8_t *widths = p;
        p += DELTA_MINIBLOCKS;
        for (int b = 0; b < DELTA_MINIBLOCKS; b++) {
            Py_ssize_t lo = (Py_ssize_t)b * DELTA_MINI;
            if (lo >= n) {
                widths[b] = 0; /* not needed: no body */
                continue;
            }
            uint64_t mini[DELTA_MINI], top = 0;
            for (int k = 0; k < DELTA_MINI; k++) {
                mini[k] = lo + k < n ? delta[lo + k] - (uint64_t)least : 0;
                top |= mini[k];
            }
            int width = top ? 64 - __builtin_clzll(top) : 0;
            widths[b] = (uint8_t)width;
            p += pack32(p, mini, width);
        }
    }
    Py_END_ALLOW_THREADS
    size = p - out;
    if (!stats || !mm.has_min) {
        result = Py_BuildValue("(nnOO)", size, nulls, Py_None, Py_None);
    } else {
        result = Py_BuildValue("(nny#y#)", size, nulls, (const char *)&mm.imin, (Py_ssize_t)8,
                               (const char *)&mm.imax, (Py_ssize_t)8);
    }
done:
    free(picked);
    if (body.buf) PyBuffer_Release(&body);
    rows_release(&rows);
    return result;
}

static PyMethodDef module_methods[] = {
    {"encode", encode, METH_VARARGS, encode_doc},
    {"encode_dict", encode_dict, METH_VARARGS, encode_dict_doc},
    {"encode_delta", encode_delta, METH_VARARGS, encode_delta_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef pages_module = {
    PyModuleDef_HEAD_INIT, "_parquet_pages",
    "Parquet data page bodies from Arrow buffers (see mailtrace/parquet_write.py).", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__parquet_pages(void) { return PyModule_Create(&pages_module); }

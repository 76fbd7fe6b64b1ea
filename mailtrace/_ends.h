/* The first and last (up to) 8 bytes of a string, as two words: the key the compiled modules
 * hash and compare short strings by (kinds, programs and hosts in _fastlog's counts, dictionary
 * values in _parquet_pages, column values in _pathcore). Two strings of up to 16 bytes are equal
 * when their lengths and both words are; longer ones need a memcmp as well. And the check that
 * an Arrow string array's buffers are whole, before any of them reads its strings. */
#ifndef MAILTRACE_ENDS_H
#define MAILTRACE_ENDS_H

#include <stdint.h>
#include <string.h>

/* The first and last (up to) 8 bytes of p[0:n], zero-padded; `limit`: the end of the buffer
 * (a string shorter than 8 bytes is read with one 8-byte load when the buffer goes on). */
static inline void ends_of(const void *s, int32_t n, const void *limit, uint64_t *head,
                           uint64_t *tail) {
    const unsigned char *p = (const unsigned char *)s;
    uint64_t h = 0, t = 0;
    if (n >= 8) {
        memcpy(&h, p, 8);
        memcpy(&t, p + n - 8, 8);
    } else if ((const unsigned char *)limit - p >= 8) { /* the bytes past the string masked off */
        memcpy(&h, p, 8);
        h &= n == 0 ? 0 : ~0ull >> (8 * (8 - n));
    } else {
        for (int32_t k = 0; k < n; k++) h |= (uint64_t)p[k] << (8 * k);
    }
    *head = h;
    *tail = t;
}

/* Whether string a (an bytes, ends ah and at) equals b: length and ends decide up to 16 bytes. */
static inline int ends_equal(const void *a, int32_t an, uint64_t ah, uint64_t at, const void *b,
                             int32_t bn, uint64_t bh, uint64_t bt) {
    return an == bn && ah == bh && at == bt && (bn <= 16 || memcmp(a, b, (size_t)bn) == 0);
}

/* The hash both modules' small tables probe with: the ends and the length, mixed. */
static inline uint64_t ends_hash(int32_t n, uint64_t head, uint64_t tail) {
    return (head ^ (tail * 0x9E3779B97F4A7C15ull) ^ (uint64_t)n) * 0xFF51AFD7ED558CCDull;
}

/* Whether the buffers of an Arrow string array hold its rows [offset, offset + length): int32
 * offsets (offsets_bytes long) in order and inside the data, and a validity bitmap of at least
 * valid_bytes (-1: no bitmap). Checked before a module reads the strings without bounds. */
static inline int strings_fit(int64_t offset, int64_t length, const int32_t *off,
                              int64_t offsets_bytes, int64_t data_bytes, int64_t valid_bytes) {
    if (offset < 0 || length < 0 || (offset + length + 1) * 4 > offsets_bytes ||
        (valid_bytes >= 0 && (offset + length + 7) / 8 > valid_bytes))
        return 0;
    for (int64_t i = offset; i <= offset + length; i++)
        if (off[i] < 0 || off[i] > data_bytes || (i > offset && off[i] < off[i - 1])) return 0;
    return 1;
}

#endif

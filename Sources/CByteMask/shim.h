// Masks of the bytes equal to a given byte, sixteen bytes at a time, for Swift, which has no way to turn a vector
// compare into a bit mask (SSE2's `pmovmskb`): the CSV row decoder finds all the commas of a row at once, so that
// reading a field does not wait for the end of the field before it.
#ifndef REPLAY_BYTE_MASK_H
#define REPLAY_BYTE_MASK_H

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// Bit i (0-15) set when byte i of the 16 bytes at `bytes` is a comma; bit 16 + i when it is a double quote.
/// `bytes` must have 16 readable bytes.
static inline uint32_t replay_commas_and_quotes16(const void *bytes) {
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)bytes);
    uint32_t commas = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')));
    uint32_t quotes = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
    return commas | (quotes << 16);
#else
    uint8_t b[16];
    memcpy(b, bytes, 16);
    uint32_t mask = 0;
    for (int i = 0; i < 16; i++) {
        mask |= (uint32_t)(b[i] == ',') << i;
        mask |= (uint32_t)(b[i] == '"') << (16 + i);
    }
    return mask;
#endif
}

#endif

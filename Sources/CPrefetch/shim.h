// Cache hints for Swift, which has no intrinsics for them: a software prefetch (`__builtin_prefetch` compiles to
// one prefetch instruction, which retires at once, where a plain load of the same address would hold back every
// instruction after it until the cache miss is served), and a copy by streaming stores.
#ifndef REPLAY_PREFETCH_H
#define REPLAY_PREFETCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// Asks the CPU to bring the cache line holding `address` in, for writing, into every cache level.
/// `address` need not be valid to read: a prefetch never faults.
static inline void replay_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

/// Copies `count` bytes from `source` to `destination` (not overlapping) with streaming stores (`movntdq`), which
/// write whole lines to memory without first reading them into this core's cache, and orders them (`sfence`)
/// before returning, so that a thread the destination is then handed to (through a lock or an atomic) sees them.
/// For memory another core reads next: a plain store to a line that core holds must first take the line from
/// it, and on machines whose shared caches are slow that cost ISA-L's inflate, writing straight into the chunks
/// the parse workers read, up to 70% more time (docs/DEVELOPING.md, "ISA-L inflates into a buffer of its own").
/// Plain copies where SSE2 is missing.
static inline void replay_copy_streaming(void *destination, const void *source, size_t count) {
#if defined(__SSE2__)
    unsigned char *d = (unsigned char *)destination;
    const unsigned char *s = (const unsigned char *)source;
    // Plain stores up to a line boundary, whole lines streamed, plain stores for the last part of a line.
    size_t head = (64 - ((uintptr_t)d & 63)) & 63;
    if (head > count) head = count;
    memcpy(d, s, head);
    size_t i = head;
    for (; i + 64 <= count; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(s + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(s + i + 32));
        __m128i e = _mm_loadu_si128((const __m128i *)(s + i + 48));
        _mm_stream_si128((__m128i *)(d + i), a);
        _mm_stream_si128((__m128i *)(d + i + 16), b);
        _mm_stream_si128((__m128i *)(d + i + 32), c);
        _mm_stream_si128((__m128i *)(d + i + 48), e);
    }
    memcpy(d + i, s + i, count - i);
    _mm_sfence();
#else
    memcpy(destination, source, count);
#endif
}

#endif

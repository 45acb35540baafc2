// A software prefetch for Swift, which has no intrinsic for it: `__builtin_prefetch` compiles to one
// prefetch instruction, which retires at once, where a plain load of the same address would hold back
// every instruction after it until the cache miss is served.
#ifndef REPLAY_PREFETCH_H
#define REPLAY_PREFETCH_H

/// Asks the CPU to bring the cache line holding `address` in, for writing, into every cache level.
/// `address` need not be valid to read: a prefetch never faults.
static inline void replay_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif

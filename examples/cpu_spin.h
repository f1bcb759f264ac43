/* cpu_spin.h - the busy loop every hot function of cpu_hot.cpp and cpu_lib.cpp runs.
 *
 * A macro, not a function, so that the loop's instructions belong to the function that
 * spins (an inline helper would give every hot function's samples one shared inlined
 * frame). Each iteration is one xorshift step: a dependency chain the compiler can neither
 * vectorise nor fold, so n iterations cost n times the same few cycles in every function.
 */
#ifndef HEAPVIZ_EXAMPLES_CPU_SPIN_H
#define HEAPVIZ_EXAMPLES_CPU_SPIN_H
#include <stdint.h>

#define CPU_SPIN(x, n)                              \
    do {                                            \
        for (long cpu_spin_i = 0; cpu_spin_i < (n); ++cpu_spin_i) { \
            (x) ^= (x) << 13;                       \
            (x) ^= (x) >> 7;                        \
            (x) ^= (x) << 17;                       \
        }                                           \
    } while (0)

/* libcpuhot.so's hot function (cpu_lib.cpp). */
uint64_t lib_spin(uint64_t x, long n);

#endif

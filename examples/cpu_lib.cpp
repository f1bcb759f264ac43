/* cpu_lib.cpp - libcpuhot.so: the hot function of cpu_hot.cpp that lives in a shared library
 * (20% of the CPU time). Built -O2 -g -fPIC. */
#include "cpu_spin.h"

__attribute__((noinline)) uint64_t lib_spin(uint64_t x, long n)
{
    CPU_SPIN(x, n);
    return x;
}

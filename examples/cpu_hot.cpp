/* cpu_hot.cpp - a CPU-bound program whose hot functions take known shares of its CPU time,
 * for gperftools' CPU profiler (libprofiler). Built -O2 -g.
 *
 * Every hot function runs the same xorshift loop (cpu_spin.h) for a fixed number of
 * iterations per round, so their shares of the samples follow the iteration counts:
 *
 *   function                        iterations/round   share   where
 *   spin_hot                              4 x UNIT        40%   cpu_hot, not inlined
 *   spin_warm (inlined in warm_caller)    3 x UNIT        30%   cpu_hot, always_inline
 *   lib_spin                              2 x UNIT        20%   libcpuhot.so
 *   spin_cold                             1 x UNIT        10%   cpu_hot, not inlined
 *
 * All of it under run_rounds (about 100% cum) and main; ROUNDS x 10 x UNIT iterations take
 * about 1 s of CPU.
 *
 *   cpu_hot [--threads]                  profiled with LD_PRELOAD=libprofiler.so CPUPROFILE=FILE
 *   cpu_hot_api FILE [--threads]         built with -DCPU_HOT_API -lprofiler: ProfilerStart(FILE)
 *                                        before the rounds, ProfilerStop() after them
 *
 * --threads runs the rounds on two threads: one runs spin_hot and spin_cold (50%), the other
 * warm_caller and lib_spin (50%); the shares per function stay the same, the wall time halves.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_spin.h"
#ifdef CPU_HOT_API
#include <gperftools/profiler.h>
#endif

static const long UNIT = 600000;
static const int ROUNDS = 100;

volatile uint64_t seed = 88172645463325252ull;  // volatile: nothing is computed at build time
volatile uint64_t sink;

__attribute__((noinline)) uint64_t spin_hot(uint64_t x, long n)
{
    CPU_SPIN(x, n);
    return x;
}

static inline __attribute__((always_inline)) uint64_t spin_warm(uint64_t x, long n)
{
    CPU_SPIN(x, n);
    return x;
}

__attribute__((noinline)) uint64_t warm_caller(uint64_t x, long n)
{
    return spin_warm(x, n) + 1;
}

__attribute__((noinline)) uint64_t spin_cold(uint64_t x, long n)
{
    CPU_SPIN(x, n);
    return x;
}

struct Work {
    bool hot_cold;  // spin_hot and spin_cold
    bool warm_lib;  // warm_caller and lib_spin
};

__attribute__((noinline)) void *run_rounds(void *arg)
{
    const Work *w = static_cast<const Work *>(arg);
    uint64_t x = seed;
    for (int r = 0; r < ROUNDS; ++r) {
        if (w->hot_cold)
            x = spin_hot(x, 4 * UNIT);
        if (w->warm_lib) {
            x = warm_caller(x, 3 * UNIT);
            x = lib_spin(x, 2 * UNIT);
        }
        if (w->hot_cold)
            x = spin_cold(x, 1 * UNIT);
    }
    sink = x;
    return nullptr;
}

int main(int argc, char **argv)
{
    int arg = 1;
#ifdef CPU_HOT_API
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [--threads]\n", argv[0]);
        return 2;
    }
    const char *file = argv[arg++];
#endif
    bool threads = arg < argc && strcmp(argv[arg], "--threads") == 0;
#ifdef CPU_HOT_API
    if (!ProfilerStart(file)) {
        fprintf(stderr, "ProfilerStart(%s) failed\n", file);
        return 1;
    }
#endif
    if (threads) {
        Work a = {true, false}, b = {false, true};
        pthread_t ta, tb;
        if (pthread_create(&ta, nullptr, run_rounds, &a) || pthread_create(&tb, nullptr, run_rounds, &b)) {
            perror("pthread_create");
            return 1;
        }
        // The main thread only waits: SIGPROF blocked here goes to the working threads, so that a
        // tick while it enters the join is never charged to main (nothing runs under main). It
        // stays blocked to the end: a tick pending once both threads are gone is never delivered.
        sigset_t prof;
        sigemptyset(&prof);
        sigaddset(&prof, SIGPROF);
        pthread_sigmask(SIG_BLOCK, &prof, nullptr);
        pthread_join(ta, nullptr);
        pthread_join(tb, nullptr);
    } else {
        Work both = {true, true};
        run_rounds(&both);
    }
#ifdef CPU_HOT_API
    ProfilerStop();
#endif
    return 0;
}

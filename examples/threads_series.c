/* threads_series.c - a series of heap profiles from a multi-threaded leaker.
 *
 * Four worker threads run in lock-step "phases" with the main thread.
 * After every phase the main thread calls HeapProfilerDump(), producing
 * PREFIX.0001.heap .. PREFIX.0004.heap (PREFIX = argv[1]).
 *
 * Ground truth (bytes in use at dump k, k = 1..4):
 *   leak_in_worker_a   10 x 1000 B per phase      -> 10000 * k
 *   leak_in_worker_b    3 x 4096 B per phase      -> 12288 * k
 *   leak_in_worker_c    5 x  777 B per phase      ->  3885 * k
 *   churn_in_worker_d  100 x 64 KiB malloc+free   ->  0 in use
 *                      (6553600 * k in alloc_space only)
 *   spike_in_main      1 MiB allocated in phase 2, freed in phase 4
 *                      -> 1048576 at dumps 2 and 3, 0 at dumps 1 and 4
 *   setup_tables       8192 B once before phase 1 -> 8192 at every dump
 *
 * Threads are created before HeapProfilerStart() so that glibc's thread
 * bookkeeping (TLS blocks) is not part of the profile: the totals are exact.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gperftools/heap-profiler.h>

#define NPHASES 4
#define NWORKERS 4

static pthread_barrier_t phase_start, phase_done;

/* Leaked pointers are parked here so nothing is freed by accident
 * (and so HEAPCHECK-style tools would call them reachable). */
static void *volatile sink[4096];
static int sink_n;
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;

static void keep(void *p)
{
    pthread_mutex_lock(&sink_lock);
    sink[sink_n++] = p;
    pthread_mutex_unlock(&sink_lock);
}

__attribute__((noinline)) static void leak_in_worker_a(void)
{
    for (int i = 0; i < 10; i++) {
        char *p = malloc(1000);
        memset(p, 'a', 1000);
        keep(p);
    }
}

__attribute__((noinline)) static void leak_in_worker_b(void)
{
    for (int i = 0; i < 3; i++) {
        char *p = calloc(1, 4096);
        keep(p);
    }
}

__attribute__((noinline)) static void leak_in_worker_c(void)
{
    for (int i = 0; i < 5; i++) {
        char *p = malloc(777);
        memset(p, 'c', 777);
        keep(p);
    }
}

/* Allocates and frees: visible in alloc_space/alloc_objects only. */
__attribute__((noinline)) static void churn_in_worker_d(void)
{
    for (int i = 0; i < 100; i++) {
        volatile char *p = malloc(65536);
        p[0] = 'd';
        p[65535] = 'd';
        free((void *)p);
    }
}

__attribute__((noinline)) static void *spike_in_main(void)
{
    char *p = malloc(1048576);
    memset(p, 's', 1048576);
    return p;
}

__attribute__((noinline)) static void setup_tables(void)
{
    char *p = malloc(8192);
    memset(p, 0, 8192);
    keep(p);
}

static void *worker(void *arg)
{
    void (*fn)(void) = (void (*)(void))arg;
    for (int phase = 1; phase <= NPHASES; phase++) {
        pthread_barrier_wait(&phase_start);
        fn();
        pthread_barrier_wait(&phase_done);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROFILE_PREFIX\n", argv[0]);
        return 2;
    }
    static void (*const fns[NWORKERS])(void) = {
        leak_in_worker_a, leak_in_worker_b, leak_in_worker_c, churn_in_worker_d,
    };
    pthread_t tid[NWORKERS];

    pthread_barrier_init(&phase_start, NULL, NWORKERS + 1);
    pthread_barrier_init(&phase_done, NULL, NWORKERS + 1);
    for (int i = 0; i < NWORKERS; i++)
        pthread_create(&tid[i], NULL, worker, (void *)fns[i]);

    HeapProfilerStart(argv[1]);
    setup_tables();

    void *spike = NULL;
    char reason[32];
    for (int phase = 1; phase <= NPHASES; phase++) {
        pthread_barrier_wait(&phase_start);
        if (phase == 2)
            spike = spike_in_main();
        if (phase == 4) {
            free(spike);
            spike = NULL;
        }
        pthread_barrier_wait(&phase_done);
        snprintf(reason, sizeof reason, "phase %d", phase);
        HeapProfilerDump(reason);
    }
    /* Stop before exit: otherwise tcmalloc writes one more
     * "Exiting, N kB in use" dump (PREFIX.0005.heap) at exit. */
    HeapProfilerStop();

    for (int i = 0; i < NWORKERS; i++)
        pthread_join(tid[i], NULL);
    return 0;
}

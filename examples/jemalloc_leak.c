/* jemalloc_leak.c - profiled with jemalloc's heap profiler (not tcmalloc):
 *
 *   LD_PRELOAD=libjemalloc.so.2 \
 *   MALLOC_CONF=prof:true,prof_active:false,prof_accum:true,lg_prof_sample:0,\
 *               prof_final:true,prof_prefix:DIR/jeprof ./jemalloc_leak
 *
 * lg_prof_sample:0 records every allocation, so the values are exact.  The
 * profiler starts inactive and main() turns it on through mallctl() (found
 * with dlsym: the program is not linked with jemalloc), so allocations made
 * while the process and the worker thread start are not in the profile.
 * jemalloc records the size class of each object, not the requested size:
 *   leak_pages      main thread,   5 x 4096 B                -> 20480 B
 *   leak_rounded    main thread,   1 x 1000 B requested      ->  1024 B
 *   leak_in_worker  worker thread, 3 x 1024 B                ->  3072 B
 *   churn           main thread,  10 x 65536 B, all freed    ->     0 B in use,
 *                                                               655360 B allocated
 * prof_final writes DIR/jeprof.<pid>.<seq>.f.heap at exit.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline, noclone))

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

static void *volatile sink[16];
static sem_t go;

NOINLINE void leak_pages(void)
{
    for (int i = 0; i < 5; i++) {
        sink[i] = malloc(4096);
        memset(sink[i], 1, 4096);
    }
}

NOINLINE void leak_rounded(void)
{
    sink[5] = malloc(1000);
    memset(sink[5], 2, 1000);
}

NOINLINE void churn(void)
{
    for (int i = 0; i < 10; i++) {
        sink[6] = malloc(65536);
        memset(sink[6], 3, 65536);
        free(sink[6]);
    }
    sink[6] = NULL;
}

NOINLINE void leak_in_worker(void)
{
    for (int i = 0; i < 3; i++) {
        sink[7 + i] = malloc(1024);
        memset(sink[7 + i], 4, 1024);
    }
}

static void *worker(void *arg)
{
    (void)arg;
    sem_wait(&go); /* start only once profiling is on */
    leak_in_worker();
    return NULL;
}

int main(void)
{
    mallctl_fn mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    if (!mallctl) {
        fprintf(stderr, "jemalloc_leak: mallctl not found: run with LD_PRELOAD=libjemalloc.so.2\n");
        return 2;
    }
    pthread_t t;
    sem_init(&go, 0, 0);
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 2;
    bool on = true;
    if (mallctl("prof.active", NULL, NULL, &on, sizeof on) != 0) {
        fprintf(stderr, "jemalloc_leak: jemalloc was built without profiling (--enable-prof)\n");
        return 2;
    }
    leak_pages();
    leak_rounded();
    churn();
    sem_post(&go);
    pthread_join(t, NULL);
    on = false;
    mallctl("prof.active", NULL, NULL, &on, sizeof on);
    return 0;
}

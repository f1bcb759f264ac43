/* massif_growth.c - a heap that grows, spikes and stays, for heapviz's Valgrind massif input.
 * Built with gcc -g -O0, no tcmalloc; run by tests/test_valgrind_massif.py as
 *
 *   valgrind --tool=massif --time-unit=B --massif-out-file=F ./massif_growth
 *
 * (--time-unit=B: time is bytes allocated and freed, so the snapshots are the same on every
 * machine; every 10th snapshot and the peak have their tree.)  What the heap holds:
 *   setup_tables     8192 B, once at the start, kept
 *   grow_cache       +4000 B in each of 10 steps (40000 B at the end), kept: steady growth
 *   spike            60000 B allocated then freed in step 5: the peak, gone after it
 *   tiny_strings     10 x 16 B per step, kept: small, below massif's 1% threshold at the peak
 *   inline_grow      +1000 B per step from an always_inline helper inlined into grow_step
 */
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static void *volatile keep[1000];
static int nkeep;

static void hold(void *p) { keep[nkeep++] = p; }

NOINLINE void setup_tables(void)
{
    void *p = malloc(8192);
    memset(p, 1, 8192);
    hold(p);
}

NOINLINE void grow_cache(void)
{
    void *p = malloc(4000);
    memset(p, 2, 4000);
    hold(p);
}

NOINLINE void spike(void)
{
    void *p = malloc(60000);
    memset(p, 3, 60000);
    free(p);
}

NOINLINE void tiny_strings(void)
{
    for (int i = 0; i < 10; i++) {
        char *s = malloc(16);
        strcpy(s, "tiny string");
        hold(s);
    }
}

static inline __attribute__((always_inline)) void inline_grow(void)
{
    void *p = malloc(1000);
    memset(p, 4, 1000);
    hold(p);
}

NOINLINE void grow_step(int step)
{
    grow_cache();
    inline_grow();
    tiny_strings();
    if (step == 5)
        spike();
}

int main(void)
{
    setup_tables();
    for (int step = 1; step <= 10; step++)
        grow_step(step);
    return 0;
}

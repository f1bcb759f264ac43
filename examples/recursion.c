/* recursion.c - the same function several times in one stack.
 *
 * Unlike the other examples this program does not call the heap-profiler
 * API at all: it is meant to run with HEAPPROFILE=PREFIX in the
 * environment.  tcmalloc then starts profiling before main() and writes
 * PREFIX.0001.heap ("Exiting, N kB in use") from a static destructor at
 * exit, because the profiler is still on then.
 *
 * Ground truth (bytes in use at the exit dump):
 *   recurse   depths 0..7, allocates (depth+1)*128 B at even depths
 *             128 + 384 + 640 + 896                  = 2048 B (4 objects)
 *   ping      ping(6)->pong(5)->ping(4)->...->ping(0):
 *             ping runs for n = 6,4,2,0, 200 B each  =  800 B
 *   pong      n = 5,3,1, 300 B each                  =  900 B
 * Every allocation happens after the recursive call returns, so no call
 * is a tail call and each frame is really on the stack.
 */
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline, noclone))

void *volatile keep[32];
static int nkeep;

/* A macro, not a helper function, so that malloc is called directly from
 * recurse/ping/pong and they are the leaf frames of their allocations. */
#define ALLOC_KEPT(n)                      \
    do {                                   \
        void *p_ = malloc(n);              \
        memset(p_, 0x5a, (n));             \
        keep[nkeep++] = p_;                \
    } while (0)

NOINLINE void recurse(int depth, int max)
{
    if (depth < max)
        recurse(depth + 1, max);
    if (depth % 2 == 0)
        ALLOC_KEPT((size_t)(depth + 1) * 128);
}

NOINLINE void pong(int n);

NOINLINE void ping(int n)
{
    if (n > 0)
        pong(n - 1);
    ALLOC_KEPT(200);
}

NOINLINE void pong(int n)
{
    if (n > 0)
        ping(n - 1);
    ALLOC_KEPT(300);
}

int main(void)
{
    recurse(0, 7);
    ping(6);
    return 0;
}

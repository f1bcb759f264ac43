/* heapcheck.c - run under tcmalloc's heap checker: HEAPCHECK=normal.
 *
 * The heap checker treats memory reachable from globals/stacks as live and
 * reports only objects that nothing points to any more.  This program keeps
 * one block reachable (NOT reported) and really loses two others (reported):
 *   lose_blocks      4 x 1000 B, pointers overwritten   -> leak, 4000 B
 *   lose_one_string  1 x 555 B, pointer dropped          -> leak,  555 B
 *   keep_reachable   2048 B, stored in a global          -> not a leak
 * At exit the checker prints "Leak check _main_ detected leaks of 4555
 * bytes in 5 objects", writes the leaked objects as a heap profile
 *   $HEAP_CHECK_DUMP_DIRECTORY/heapcheck.<pid>._main_-end.heap
 * and makes the process exit with status 1.
 */
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline, noclone))

void *g_kept;

NOINLINE void keep_reachable(void)
{
    g_kept = malloc(2048);
    memset(g_kept, 1, 2048);
}

/* volatile: the compiler must not optimise the stores (and mallocs) away. */
static void *volatile lost;

NOINLINE void lose_blocks(void)
{
    for (int i = 0; i < 4; i++) {
        lost = malloc(1000);
        memset(lost, 2, 1000);
    }
    lost = NULL;
}

NOINLINE void lose_one_string(void)
{
    char *s = malloc(555);
    memset(s, 'x', 554);
    s[554] = '\0';
    lost = s;
    lost = NULL;
}

/* Stale copies of a lost pointer left in dead stack slots (below main's
 * frame) would make the checker see the block as reachable when it scans
 * the stack at exit.  Overwrite that area before returning. */
NOINLINE void scrub_stack(void)
{
    volatile char junk[16384];
    for (unsigned i = 0; i < sizeof junk; i++)
        junk[i] = 0;
}

int main(void)
{
    keep_reachable();
    lose_blocks();
    lose_one_string();
    scrub_stack();
    return 0;
}

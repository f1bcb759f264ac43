/* libleak.c - built as libleak.so and linked (DT_NEEDED) into shlib_main.
 * Leaf frames of these leaks live in the shared library, not in the
 * executable, so a symbolizer has to use the library's own load address.
 */
#include <stdlib.h>
#include <string.h>
#include "libleak.h"

struct node {
    struct node *next;
    char payload[40];   /* sizeof(struct node) == 48 */
};

__attribute__((noinline)) void *libleak_alloc_table(size_t nrows)
{
    char *t = malloc(nrows * 256);
    memset(t, 0, nrows * 256);
    return t;
}

__attribute__((noinline)) void *libleak_make_list(int n)
{
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *nd = malloc(sizeof *nd);
        nd->next = head;
        memset(nd->payload, i, sizeof nd->payload);
        head = nd;
    }
    return head;
}

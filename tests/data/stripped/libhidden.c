/* libhidden.c - a shared library whose allocating functions are static: once the library is
 * stripped only hidden_api (exported, in .dynsym) keeps a name.
 *
 * Ground truth per call hidden_api(n): hidden_table n x 128 B, hidden_node n x 96 B.
 */
#include <stdlib.h>
#include <string.h>

__attribute__((noipa)) static void *hidden_table(size_t n)
{
    char *p = malloc(n * 128);
    memset(p, 1, n * 128);
    return p;
}

__attribute__((noipa)) static void *hidden_node(int i)
{
    char *p = malloc(96);
    memset(p, i, 96);
    return p;
}

void *volatile hidden_keep[64];

__attribute__((noipa)) void hidden_api(int n)
{
    hidden_keep[0] = hidden_table((size_t)n);
    for (int i = 1; i <= n && i < 64; i++)
        hidden_keep[i] = hidden_node(i);
}

/* memcheck_leaks.cpp - leaks of every kind Valgrind's memcheck tells apart, for
 * heapviz's memcheck input (XML and text log).  Built with g++ -g -O0, no tcmalloc;
 * run under valgrind by tests/test_valgrind.py, not by `make all`:
 *
 *   valgrind --leak-check=full --show-leak-kinds=all --xml=yes --xml-file=F ./memcheck_leaks
 *   valgrind --leak-check=full --show-leak-kinds=all --log-file=F ./memcheck_leaks
 *
 * Expected bytes per site (what memcheck reports and heapviz must show):
 *   lose_block          1000 B in 1 block   definitely lost (malloc)
 *   lose_calloc          500 B in 1 block   definitely lost (calloc 10 x 50)
 *   lose_realloc         600 B in 1 block   definitely lost (malloc 100, realloc to 600)
 *   lose_list            48 B direct + 432 B indirect: the head of a 10-node list
 *                        (48 B nodes) is definitely lost, "480 (48 direct, 432
 *                        indirect) bytes in 1 blocks"; make_node's 9 nodes are
 *                        indirectly lost (432 B in 9 blocks)
 *   lose_widget           24 B in 1 block   definitely lost (operator new)
 *   lose_array           200 B in 1 block   definitely lost (operator new[], 50 ints)
 *   outer_caller         700 B in 1 block   definitely lost, allocated in
 *                        inline_alloc, an always_inline function: valgrind prints it
 *                        as its own frame with outer_caller's address
 *   keep_interior       2000 B in 1 block   possibly lost (only a pointer into it is kept)
 *   keep_reachable      3000 B in 1 block   still reachable (a global points at it)
 */
#include <cstdlib>
#include <cstring>

#define NOINLINE __attribute__((noinline))

struct Node {
    Node *next;
    char payload[40];  // 48 bytes in all on LP64
};

struct Widget {
    long a, b, c;  // 24 bytes
};

void *g_reachable;
char *g_interior;
/* volatile: the stores (and so the allocations) must not be optimised away. */
static void *volatile g_lost;

NOINLINE void lose_block()
{
    g_lost = malloc(1000);
    memset(g_lost, 1, 1000);
    g_lost = nullptr;
}

NOINLINE void lose_calloc()
{
    g_lost = calloc(10, 50);
    g_lost = nullptr;
}

NOINLINE void lose_realloc()
{
    void *p = malloc(100);
    g_lost = realloc(p, 600);
    g_lost = nullptr;
}

NOINLINE Node *make_node(Node *next)
{
    Node *n = static_cast<Node *>(malloc(sizeof(Node)));
    memset(n, 0, sizeof(Node));
    n->next = next;
    return n;
}

NOINLINE void lose_list()
{
    Node *tail = nullptr;
    for (int i = 0; i < 9; i++)
        tail = make_node(tail);
    Node *head = static_cast<Node *>(malloc(sizeof(Node)));
    memset(head, 0, sizeof(Node));
    head->next = tail;
    g_lost = head;
    g_lost = nullptr;
}

NOINLINE void lose_widget()
{
    g_lost = new Widget{1, 2, 3};
    g_lost = nullptr;
}

NOINLINE void lose_array()
{
    g_lost = new int[50]();
    g_lost = nullptr;
}

static inline __attribute__((always_inline)) void *inline_alloc(size_t n)
{
    void *p = malloc(n);
    memset(p, 7, n);
    return p;
}

NOINLINE void outer_caller()
{
    g_lost = inline_alloc(700);
    g_lost = nullptr;
}

NOINLINE void keep_interior()
{
    char *p = static_cast<char *>(malloc(2000));
    memset(p, 3, 2000);
    g_interior = p + 16;
}

NOINLINE void keep_reachable()
{
    g_reachable = malloc(3000);
    memset(g_reachable, 4, 3000);
}

/* Overwrites the stack the functions above used, so that no stale pointer there keeps a
 * lost block reachable when memcheck scans memory at exit. */
NOINLINE void scrub_stack()
{
    volatile char buf[4096];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = 0;
}

int main()
{
    lose_block();
    lose_calloc();
    lose_realloc();
    lose_list();
    lose_widget();
    lose_array();
    outer_caller();
    keep_interior();
    keep_reachable();
    scrub_stack();
    return 0;
}

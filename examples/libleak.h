/* libleak.h - API of libleak.so (see libleak.c). */
#ifndef HEAPVIZ_EXAMPLES_LIBLEAK_H
#define HEAPVIZ_EXAMPLES_LIBLEAK_H
#include <stddef.h>

/* Leaks nrows * 256 bytes as one block (one allocation per call). */
void *libleak_alloc_table(size_t nrows);
/* Leaks n blocks of 48 bytes each (a linked list that is never freed). */
void *libleak_make_list(int n);

#endif

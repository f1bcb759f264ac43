/* main.c - calls libhidden.so and dumps PREFIX.0001.heap (PREFIX = argv[1]). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gperftools/heap-profiler.h>

void hidden_api(int n);

void *volatile main_keep;

__attribute__((noipa)) static void *main_alloc(void)
{
    char *p = malloc(640);
    memset(p, 'm', 640);
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROFILE_PREFIX\n", argv[0]);
        return 2;
    }
    HeapProfilerStart(argv[1]);
    hidden_api(10);
    main_keep = main_alloc();
    HeapProfilerDump("stripped");
    HeapProfilerStop();
    return 0;
}

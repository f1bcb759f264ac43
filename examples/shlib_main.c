/* shlib_main.c - PIE executable that leaks from three objects:
 *   the executable itself, libleak.so (linked) and plugin.so (dlopen'ed).
 * Dumps PREFIX.0001.heap and PREFIX.0002.heap, PREFIX = argv[1].
 *
 * Ground truth (bytes in use):                    dump 1   dump 2
 *   libleak_alloc_table  40 rows x 256 B           10240    10240
 *   libleak_make_list    25 x 48 B                  1200     1200
 *   main_leak            2 x 640 B                  1280     1280
 *   plugin_leak          6 x 3072 B                    0    18432
 *   plugin_strdup_config strdup, 27 B (leaf strdup)    0       27
 *
 * plugin.so is looked up next to the executable (/proc/self/exe), so the
 * program works from any working directory. libleak.so is found through
 * the executable's RUNPATH ($ORIGIN).  The plugin is loaded before
 * HeapProfilerStart() so that the dynamic loader's own allocations are
 * not in the profile and the totals are exact.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gperftools/heap-profiler.h>
#include "libleak.h"

void *volatile keep[8];

__attribute__((noinline)) static void *main_leak(void)
{
    char *p = malloc(640);
    memset(p, 'm', 640);
    return p;
}

static void *load_plugin(void)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) {
        perror("readlink /proc/self/exe");
        exit(1);
    }
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    const char name[] = "plugin.so";
    if (!slash || (size_t)(slash + 1 - path) + sizeof name > sizeof path) {
        fprintf(stderr, "bad executable path %s\n", path);
        exit(1);
    }
    memcpy(slash + 1, name, sizeof name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        exit(1);
    }
    return h;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROFILE_PREFIX\n", argv[0]);
        return 2;
    }
    void *h = load_plugin();
    void *(*plugin_leak)(int) = (void *(*)(int))dlsym(h, "plugin_leak");
    char *(*plugin_strdup_config)(void) =
        (char *(*)(void))dlsym(h, "plugin_strdup_config");
    if (!plugin_leak || !plugin_strdup_config) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
    }

    HeapProfilerStart(argv[1]);

    keep[0] = libleak_alloc_table(40);
    keep[1] = libleak_make_list(25);
    keep[2] = main_leak();
    keep[3] = main_leak();
    HeapProfilerDump("library leaks");

    keep[4] = plugin_leak(6);
    keep[5] = plugin_strdup_config();
    HeapProfilerDump("plugin leaks");

    HeapProfilerStop();   /* no extra exit dump */
    return 0;           /* plugin.so stays loaded: no dlclose */
}

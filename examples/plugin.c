/* plugin.c - built as plugin.so and loaded with dlopen() by shlib_main.
 * It is not a DT_NEEDED dependency: it only appears in the profile's
 * MAPPED_LIBRARIES because it is mapped at dump time.
 */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *plugin_leak(int n)
{
    /* n blocks of 3 KiB, chained through their first word. */
    void *head = NULL;
    for (int i = 0; i < n; i++) {
        void **b = malloc(3072);
        memset(b, 0, 3072);
        b[0] = head;
        head = b;
    }
    return head;
}

__attribute__((noinline)) char *plugin_strdup_config(void)
{
    /* strdup's allocation: the leaf frame is strdup inside libc.so,
     * plugin_strdup_config is the first frame of user code. 26 + 1 B. */
    return strdup("plugin.mode=leaky;level=42");
}

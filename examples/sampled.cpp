// sampled.cpp - a *sampled* heap profile from tcmalloc's always-on sampler.
//
// Run with TCMALLOC_SAMPLE_PARAMETER=524288 in the environment (the
// Makefile does).  No heap profiler is started: the program asks tcmalloc
// for its current heap sample with MallocExtension::GetHeapSample() and
// writes it to the file named by argv[1].  The first line of that file is
//   heap profile: ... @ heap_v2/524288
// and its counts are raw samples: a reader must un-sample them
// (scale by 1 / (1 - exp(-size / 524288)) per object), so the values are
// estimates that differ from run to run (the sampler's seed is not fixed).
// Unlike heap-profiler dumps, every sampled stack still starts with a
// tcmalloc frame (tcmalloc::allocate_full_cpp_throw_oom for new[]); pprof
// hides it with its "TCMalloc|^tcmalloc::" skip rule.
//
// TRUE bytes in use at the time of the sample:
//   alloc_big_blocks     2000 x 64 KiB   = 131072000 B
//   alloc_small_objects  200000 x 32 B   =   6400000 B
#include <cstdio>
#include <cstring>
#include <string>
#include <gperftools/malloc_extension.h>

#define NOINLINE __attribute__((noinline, noclone))

static const int kBig = 2000;
static const std::size_t kBigSize = 64 * 1024;
static const int kSmall = 200000;
static const std::size_t kSmallSize = 32;

// Pointer arrays are static (BSS), so these two sites are the only
// large live allocations in the process.
char *g_big[kBig];
char *g_small[kSmall];

NOINLINE void alloc_big_blocks() {
    for (int i = 0; i < kBig; i++) {
        g_big[i] = new char[kBigSize];
        g_big[i][0] = 1;
    }
}

NOINLINE void alloc_small_objects() {
    for (int i = 0; i < kSmall; i++) {
        g_small[i] = new char[kSmallSize];
        g_small[i][0] = 1;
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s OUTPUT_FILE\n", argv[0]);
        return 2;
    }
    alloc_big_blocks();
    alloc_small_objects();

    std::string sample;
    MallocExtension::instance()->GetHeapSample(&sample);

    std::FILE *f = std::fopen(argv[1], "w");
    if (!f) {
        std::perror(argv[1]);
        return 1;
    }
    std::fwrite(sample.data(), 1, sample.size(), f);
    std::fclose(f);
    if (std::strncmp(sample.c_str(), "heap profile:", 13) != 0) {
        std::fprintf(stderr, "unexpected heap sample header\n");
        return 1;
    }
    return 0;
}

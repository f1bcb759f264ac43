// cxx_leaks.cpp - C++ leak sites with "interesting" symbol names.
//
// Built with -O2 -g.  Dumps PREFIX.0001.heap (after phase 1) and
// PREFIX.0002.heap (after phase 2), PREFIX = argv[1].
//
// Ground truth (bytes in use; x86-64, libstdc++ from GCC 12):
//                                         dump 1    dump 2
//   hv::Pool<T>::grow (T = hv::Cell, 24 B)
//       new T[256] per call                 6144     12288
//   (anonymous namespace)::leak_here
//       new char[3000]                      3000      3000
//   lambda in hv::run_lambdas, new int[100] x 2      0       800
//   hv::Circle::build (virtual override)
//       new Point[50], Point = 16 B           800       800
//   hv::operator<< (hv::Log&, hv::Record const&)
//       new char[len + 1] per record            0       600
//   hv::Accumulator::operator()
//       new double[64] x 4 calls                0      2048
//   hv::grow_vector   vector<long>::reserve(1000)   8000   8000
//   hv::grow_map      map<int,int> 100 nodes x 40 B 4000   4000
//   hv::grow_string   new std::string (32 B) + 5001 B buffer
//                                               0       5033
// Container sites: the leaf frame pprof shows is a libstdc++ frame
// (an inlined std::vector::reserve / std::_Rb_tree::_M_emplace_hint_unique,
// or basic_string::_M_construct in libstdc++.so); the ground truth is keyed
// by the user function that called into it.  Each record in operator<< is
// 99 chars + NUL = 100 B (6 records).
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>
#include <gperftools/heap-profiler.h>

// noclone too: otherwise GCC emits e.g. "...::operator() [clone .constprop.0]".
#define NOINLINE __attribute__((noinline, noclone))

namespace hv {

struct Cell {
    double x, y, z;   // 24 bytes, trivially destructible: new Cell[n] has no cookie
};

template <typename T>
class Pool {
public:
    NOINLINE void grow(std::size_t n) {
        T *block = new T[n]();
        blocks_.push_back(block);  // blocks_ reserved up front, see below
    }
    Pool() { blocks_.reserve(16); }
private:
    std::vector<T *> blocks_;
};

struct Point {
    double x, y;      // 16 bytes
};

class Shape {
public:
    virtual ~Shape() = default;
    virtual Point *build() = 0;
};

class Circle : public Shape {
public:
    NOINLINE Point *build() override { return new Point[50](); }
};

class Square : public Shape {
public:
    NOINLINE Point *build() override { return new Point[4](); }
};

struct Record {
    const char *text;
};

struct Log {
    std::vector<char *> lines;
};

NOINLINE Log &operator<<(Log &log, const Record &r) {
    std::size_t n = std::strlen(r.text);
    char *copy = new char[n + 1];
    std::memcpy(copy, r.text, n + 1);
    log.lines.push_back(copy);
    return log;
}

struct Accumulator {
    std::vector<double *> chunks;
    NOINLINE void operator()(int k) {
        double *c = new double[64];
        for (int i = 0; i < 64; i++) c[i] = k * i;
        chunks.push_back(c);
    }
};

std::vector<long> *g_vec;
std::map<int, int> *g_map;
std::string *g_str;
Shape *g_shape;
Point *g_points;
int *g_lambda_blocks[2];

NOINLINE void grow_vector() {
    g_vec->reserve(1000);                  // exactly one allocation of 8000 B
    for (long i = 0; i < 1000; i++) g_vec->push_back(i);
}

NOINLINE void grow_map() {
    for (int i = 0; i < 100; i++) (*g_map)[i] = i;  // 100 nodes x 40 B
}

NOINLINE void grow_string() {
    g_str = new std::string(5000, 'x');    // 32 B object + 5001 B buffer
}

NOINLINE void run_lambdas() {
    auto make_block = [](int n) NOINLINE {
        int *p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        return p;
    };
    g_lambda_blocks[0] = make_block(100);
    g_lambda_blocks[1] = make_block(100);
}

NOINLINE Shape *make_shape(int which) {
    if (which == 0) return new Circle;     // note: 8 B object, see below
    return new Square;
}

}  // namespace hv

namespace {

// The result must escape: a new[] whose pointer is only stored in an
// internal-linkage variable that is never read may be elided by GCC -O2.
NOINLINE char *leak_here() {
    char *p = new char[3000];
    std::memset(p, 'q', 3000);
    return p;
}

}  // namespace

char *g_anon;  // external linkage on purpose

// Globals constructed before main(), i.e. before HeapProfilerStart():
// not part of the profile.
static hv::Pool<hv::Cell> g_pool;
static hv::Log g_log;
static hv::Accumulator g_acc;
static std::vector<long> s_vec;
static std::map<int, int> s_map;

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s PROFILE_PREFIX\n", argv[0]);
        return 2;
    }
    // Pre-size the bookkeeping vectors so their own growth is not profiled.
    g_log.lines.reserve(16);
    g_acc.chunks.reserve(16);
    hv::g_vec = &s_vec;
    hv::g_map = &s_map;
    // The shape object is created before profiling starts, so only
    // build()'s allocation is in the profile.  argc keeps the call virtual.
    hv::g_shape = hv::make_shape(argc > 2 ? 1 : 0);

    HeapProfilerStart(argv[1]);

    // phase 1
    g_pool.grow(256);
    g_anon = leak_here();
    hv::g_points = hv::g_shape->build();
    hv::grow_vector();
    hv::grow_map();
    HeapProfilerDump("phase 1");

    // phase 2
    g_pool.grow(256);
    hv::run_lambdas();
    static const char *const msgs[] = {
        // 6 records, lengths 99 each -> 6 x 100 B
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" + 1,
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" + 1,
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" + 1,
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" + 1,
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" + 1,
        "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" + 1,
    };
    for (const char *m : msgs) g_log << hv::Record{m};
    for (int k = 0; k < 4; k++) g_acc(k);
    hv::grow_string();
    HeapProfilerDump("phase 2");

    // Stop so that no extra "Exiting" dump (PREFIX.0003.heap) is written.
    HeapProfilerStop();
    return 0;
}

// gocpu burns CPU in three named functions with known shares and writes a Go CPU profile
// (runtime/pprof.StartCPUProfile's gzipped profile.proto, sample types samples/count and
// cpu/nanoseconds), for heapviz's tests of non-heap profiles:
//
//	gocpu OUT.pb.gz
//
// Call tree and each function's share of the CPU time (cum):
//
//	main.main -> main.run -> main.hotLoop   ~60%
//	                      -> main.warmLoop  ~30%
//	                      -> main.coldLoop  ~10%, most of it in runtime.memmove (its copy)
//
// hotLoop and warmLoop run the same integer mixing step; coldLoop copies a 32 KiB buffer, so a
// runtime function is a leaf with about a tenth of the samples in every run. The iteration
// counts are calibrated on the process's CPU time (not wall time, which other load on the
// machine stretches) before profiling starts, so the profiled work takes about 1.5 s of CPU on
// any machine: about 150 samples at Go's 100 Hz. Long loops without calls are preempted by
// signal, so runtime.asyncPreempt may also appear as a leaf under hotLoop and warmLoop, with a
// few samples on a busy machine and often none on an idle one. pprof keeps both runtime leaves
// in CPU profiles.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"time"
)

// Total CPU time to profile and each function's share of it, in percent.
const (
	profiled   = 1500 * time.Millisecond
	hotShare   = 60
	warmShare  = 30
	coldShare  = 10
	mixCalibr  = 20_000_000 // mixing steps timed to calibrate hotLoop and warmLoop
	copyCalibr = 20_000     // buffer copies timed to calibrate coldLoop
	bufferSize = 32 << 10
)

// sink keeps every loop's result observable, so the compiler cannot drop the work.
var sink uint64

// hotLoop and warmLoop each have their own copy of the step (xorshift plus a multiply: cheap,
// data-dependent, not foldable) so that its time lands on the loop's own frame.

//go:noinline
func hotLoop(n int, x uint64) uint64 {
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		x *= 0x9e3779b97f4a7c15
	}
	return x
}

//go:noinline
func warmLoop(n int, x uint64) uint64 {
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		x *= 0x9e3779b97f4a7c15
	}
	return x
}

var src, dst = make([]byte, bufferSize), make([]byte, bufferSize)

// coldLoop copies src to dst n times; copy of a slice is a call to runtime.memmove.
//
//go:noinline
func coldLoop(n int, x uint64) uint64 {
	for i := 0; i < n; i++ {
		src[i%bufferSize] = byte(x)
		copy(dst, src)
		x = x*31 + uint64(dst[(i*7)%bufferSize])
	}
	return x
}

// cpuTime is the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

//go:noinline
func run(hot, warm, cold int) uint64 {
	x := uint64(0x2545f4914f6cdd1d)
	x = hotLoop(hot, x)
	x = warmLoop(warm, x)
	x = coldLoop(cold, x)
	return x
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gocpu OUT.pb.gz")
		os.Exit(2)
	}
	// Iterations that take `share` percent of `profiled`, from timing `calibr` of them.
	count := func(loop func(int, uint64) uint64, calibr int) func(share int64) int {
		start := cpuTime()
		sink ^= loop(calibr, 1)
		used := cpuTime() - start
		if used <= 0 {
			used = time.Millisecond
		}
		return func(share int64) int {
			return int(float64(calibr) * float64(profiled) * float64(share) / 100 / float64(used))
		}
	}
	mixes, copies := count(warmLoop, mixCalibr), count(coldLoop, copyCalibr)

	f, err := os.Create(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sink ^= run(mixes(hotShare), mixes(warmShare), copies(coldShare))
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("sink %x\n", sink)
}

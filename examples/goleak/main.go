// goleak keeps known amounts of memory reachable from named functions and writes Go heap
// profiles in both of Go's forms, for heapviz's tests:
//
//	goleak OUT.pb.gz OUT.txt
//
// OUT.pb.gz is pprof.WriteHeapProfile's gzipped profile.proto; OUT.txt is the legacy text
// form (pprof.Lookup("heap").WriteTo(f, 1): "heap profile: ... @ heap/2" with "#" frame
// comments and the "# runtime.MemStats" trailer). runtime.MemProfileRate = 1 records every
// allocation, so the profiles hold exact byte counts:
//
//	main.leakyFunc      1000 x 64 KiB   = 65536000 bytes
//	main.(*cache).fill  2000 x 4096 B   =  8192000 bytes (via main.warmCache)
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// Set before any user allocation, so that every allocation is recorded unsampled.
var _ = func() int {
	runtime.MemProfileRate = 1
	return 0
}()

var leaked [][]byte

type cache struct {
	blocks [][]byte
}

var kept *cache

//go:noinline
func leakyFunc(n, size int) {
	for i := 0; i < n; i++ {
		leaked = append(leaked, make([]byte, size))
	}
}

//go:noinline
func (c *cache) fill(n, size int) {
	for i := 0; i < n; i++ {
		c.blocks = append(c.blocks, make([]byte, size))
	}
}

//go:noinline
func warmCache() {
	c := &cache{blocks: make([][]byte, 0, 2000)}
	c.fill(2000, 4096)
	kept = c
}

func write(path string, proto bool) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if proto {
		err = pprof.WriteHeapProfile(f)
	} else {
		err = pprof.Lookup("heap").WriteTo(f, 1)
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goleak OUT.pb.gz OUT.txt")
		os.Exit(2)
	}
	leaked = make([][]byte, 0, 1000)
	leakyFunc(1000, 64<<10)
	warmCache()
	// Heap profiles show the state as of the last completed garbage collection.
	runtime.GC()
	write(os.Args[1], true)
	write(os.Args[2], false)
	runtime.KeepAlive(leaked)
	runtime.KeepAlive(kept)
}

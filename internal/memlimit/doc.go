// Package memlimit sets the Go runtime's soft memory limit of a process
// from its configuration (memory_limit) or from its environment.
//
// The processor keeps every station's state in memory; with the Go
// collector's default pacing (GOGC=100) the process takes about twice its
// live heap. A soft limit lets the garbage collector run harder as the heap nears
// it, so a deployment that budgets memory holds the budget without giving
// up throughput: 10,000 stations x 4 sensors of state (68 MB of live heap)
// stay within 100 MB of RSS under a 90 MiB limit (rules'
// BenchmarkStateMemory10k).
//
// A setting is "auto" (the default), "off", or a size ("512MiB", "1GiB",
// "800MB", or bytes). Auto takes GOMEMLIMIT when it is set and otherwise
// 90% of the cgroup's memory limit (containers, systemd MemoryMax), and no
// limit when there is neither: a laptop is not capped.
package memlimit

package rules

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// evalsPerRecord counts the rule evaluations one record makes on st.
func evalsPerRecord(e *Engine, station string, rec *schemas.Record) int {
	sr := e.cur.Load().station(station)
	n := len(sr.composites)
	for _, m := range rec.Readings {
		n += len(sr.bySensor[m.Sensor])
	}
	return n
}

func benchRecord(i int, station string) *schemas.Record {
	return &schemas.Record{V: 1, Station: station, Seq: uint64(i + 1), TS: t0.Add(time.Duration(i) * 10 * time.Minute),
		Readings: []schemas.Measurement{
			{Sensor: schemas.WaterLevel, Value: 6 + 3*float64(i%97)/97 + float64(i%5)*0.01},
			{Sensor: schemas.Rainfall, Value: float64(i%13) * 0.5},
		}}
}

// BenchmarkApply measures in-order Apply with the default rules on a river
// station reporting water level and rainfall (9 rule evaluations a record).
func BenchmarkApply(b *testing.B) {
	e := mustEngine(b, nil)
	recs := make([]*schemas.Record, 4096)
	for i := range recs {
		recs[i] = benchRecord(i, "VG-AINGHIA")
	}
	per := evalsPerRecord(e, "VG-AINGHIA", recs[0])
	st := e.NewState("VG-AINGHIA")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := recs[i%len(recs)]
		if i%len(recs) == 0 && i > 0 {
			st = e.NewState("VG-AINGHIA")
		}
		e.Apply(st, r)
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "evals/s")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkApplyOutOfOrder is BenchmarkApply with every other pair of
// records swapped (each swap replays the rules from the checkpoint).
func BenchmarkApplyOutOfOrder(b *testing.B) {
	e := mustEngine(b, nil)
	recs := make([]*schemas.Record, 4096)
	for i := range recs {
		recs[i] = benchRecord(i, "VG-AINGHIA")
	}
	for i := 0; i+1 < len(recs); i += 4 {
		recs[i], recs[i+1] = recs[i+1], recs[i]
	}
	per := evalsPerRecord(e, "VG-AINGHIA", recs[0])
	st := e.NewState("VG-AINGHIA")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(recs) == 0 && i > 0 {
			st = e.NewState("VG-AINGHIA")
		}
		e.Apply(st, recs[i%len(recs)])
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "evals/s")
}

// BenchmarkStateMemory10k fills 10,000 stations x 4 sensors (water level,
// rainfall, tilt, soil moisture) with 72 h of 10-minute readings and
// reports the live heap of the engine (the default rules bound to every
// station: rules-heap-bytes) and the states, per station, the marshalled
// (changelog) size per station, and the benchmark process's RSS (which
// also holds what the filling left for the GC): under the soft memory
// limit that memory_limit: auto sets in a cgroup of 100 MB (90 MB:
// internal/memlimit), and without a limit (the Go default, GOGC=100).
func BenchmarkStateMemory10k(b *testing.B) {
	// The limited run first: RSS keeps some of what an earlier run touched.
	b.Run("limit-90MB", func(b *testing.B) { benchStateMemory(b, 90e6) })
	b.Run("no-limit", func(b *testing.B) { benchStateMemory(b, math.MaxInt64) })
}

// benchStateMemory is BenchmarkStateMemory10k under the soft memory limit
// limit (math.MaxInt64: none).
func benchStateMemory(b *testing.B, limit int64) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
	debug.FreeOSMemory() // what an earlier benchmark left
	const stations, hours = 10000, 72
	list := make([]schemas.Station, stations)
	for i := range list {
		list[i] = schemas.Station{ID: fmt.Sprintf("S%05d", i), Name: "bench", Basin: "b", District: "d",
			Interval: 10 * time.Minute, Sensors: []schemas.Sensor{schemas.WaterLevel, schemas.Rainfall, schemas.Tilt, schemas.SoilMoisture},
			AlarmLevelsM: schemas.Levels{I: 6.5, II: 8, III: 9}}
	}
	reg, err := schemas.NewRegistry(list)
	if err != nil {
		b.Fatal(err)
	}
	for n := 0; n < b.N; n++ {
		runtime.GC()
		var before, compiled, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e, err := NewEngine(DefaultRuleSet(), reg) // the rules bound to every station count too
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&compiled)
		states := make([]*State, stations)
		steps := hours * 6
		for i := range states {
			id := list[i].ID
			st := e.NewState(id)
			for k := 0; k < steps; k++ {
				e.Apply(st, &schemas.Record{V: 1, Station: id, Seq: uint64(k + 1), TS: t0.Add(time.Duration(k) * 10 * time.Minute),
					Readings: []schemas.Measurement{
						{Sensor: schemas.WaterLevel, Value: 3 + float64((k+i)%50)/100},
						{Sensor: schemas.Rainfall, Value: float64((k*7+i)%9) * 0.2},
						{Sensor: schemas.Tilt, Value: 1 + float64(k%3)*0.001},
						{Sensor: schemas.SoilMoisture, Value: 30 + float64(k%10)},
					}})
			}
			states[i] = st
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		var enc int
		for _, st := range states {
			buf, err := st.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			enc += len(buf)
		}
		heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
		b.ReportMetric(heap, "heap-bytes")
		b.ReportMetric(float64(compiled.HeapAlloc)-float64(before.HeapAlloc), "rules-heap-bytes")
		b.ReportMetric(float64(rss()), "process-rss-bytes")
		b.ReportMetric(heap/stations, "heap-bytes/station")
		b.ReportMetric(float64(enc)/stations, "marshalled-bytes/station")
		runtime.KeepAlive(states)
		runtime.KeepAlive(e)
	}
}

// rss is the process's resident set size (VmRSS), 0 if unknown: the
// whole benchmark process, the states of BenchmarkStateMemory10k alive.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" && f[2] == "kB" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// orderBatches is a river station reporting water level and rainfall every
// 10 s, in batches of 300 records (50 minutes, inside the hour of
// lateness), each batch in the arrival order arrange gives it.
func orderBatches(arrange func(batch []*schemas.Record, rng *rand.Rand)) [][]*schemas.Record {
	const batches, per = 30, 300
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][]*schemas.Record, batches)
	for k := range out {
		out[k] = make([]*schemas.Record, per)
		for j := range out[k] {
			i := k*per + j
			out[k][j] = &schemas.Record{V: 1, Station: "VG-AINGHIA", Seq: uint64(i + 1), TS: t0.Add(time.Duration(i) * 10 * time.Second),
				Readings: []schemas.Measurement{
					{Sensor: schemas.WaterLevel, Value: 6 + 3*float64(i%97)/97 + float64(i%5)*0.01},
					{Sensor: schemas.Rainfall, Value: float64(i%13) * 0.05},
				}}
		}
		arrange(out[k], rng)
	}
	return out
}

// benchOrder applies the batches with the default rules, either sorted by
// event time per batch (sorted) or one by one as they arrived
// (as-arrived, what the processor does: the engine's own bound), and
// reports records/s and CPU-ns per record. One op is the whole sequence
// from a fresh state (30 batches, 9,000 records), so that every op does
// the same work: per-record figures from a part of the sequence would
// depend on b.N (the history, and the cost of a late record, grow over
// the first batches).
func benchOrder(b *testing.B, arrange func([]*schemas.Record, *rand.Rand)) {
	e := mustEngine(b, nil)
	src := orderBatches(arrange)
	records := 0
	for _, batch := range src {
		records += len(batch)
	}
	for _, mode := range []string{"sorted", "as-arrived"} {
		b.Run(mode, func(b *testing.B) {
			batch := make([]*schemas.Record, 0, len(src[0]))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				st := e.NewState("VG-AINGHIA")
				for _, in := range src {
					batch = append(batch[:0], in...)
					if mode == "sorted" {
						SortByEventTime(batch)
					}
					for _, r := range batch {
						e.Apply(st, r)
					}
				}
			}
			n := float64(b.N * records)
			b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/n, "cpu-ns/record")
		})
	}
}

// cpuTime is the CPU time (user and system, ns) the process has used: on
// a machine shared with other work the wall-clock ns/op includes the time
// spent waiting for a CPU, this does not.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkApplyInOrder: batches in event order.
func BenchmarkApplyInOrder(b *testing.B) {
	benchOrder(b, func([]*schemas.Record, *rand.Rand) {})
}

// BenchmarkApplyReverse: every batch newest first (a device replaying its
// backlog backwards).
func BenchmarkApplyReverse(b *testing.B) {
	benchOrder(b, func(batch []*schemas.Record, _ *rand.Rand) {
		for i, j := 0, len(batch)-1; i < j; i, j = i+1, j-1 {
			batch[i], batch[j] = batch[j], batch[i]
		}
	})
}

// BenchmarkApplyShuffled: every batch in random order.
func BenchmarkApplyShuffled(b *testing.B) {
	benchOrder(b, func(batch []*schemas.Record, rng *rand.Rand) {
		rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
	})
}

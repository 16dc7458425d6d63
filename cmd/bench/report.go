package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// report is everything a run measured.
type report struct {
	opts                 options
	telegrafVersion      string
	paho                 drain
	tgCollect, tgProcess drain
	collect1, collect2   drain
	process              drain
	bytes                kafkaBytes
	e2e                  []e2eResult
	cpuBefore, cpuAfter  snapshot
	startedAt, endedAt   time.Time
	e2eBefore, e2eAfter  snapshot
	e2eStart, e2eEnd     time.Time
}

// check is one target: got op want. A NaN got (not measured) is n/a.
type check struct {
	What string
	Got  float64
	Op   string // ">=" or "<="
	Want float64
	Unit string // printed after the numbers, e.g. "x", " CPU-s/10k"
}

// verdict is PASS, FAIL or n/a.
func (c check) verdict() string {
	switch {
	case math.IsNaN(c.Got) || math.IsInf(c.Got, 0):
		return "n/a"
	case c.Op == ">=" && c.Got >= c.Want, c.Op == "<=" && c.Got <= c.Want:
		return "PASS"
	default:
		return "FAIL"
	}
}

func (c check) String() string {
	got := "n/a"
	if !math.IsNaN(c.Got) && !math.IsInf(c.Got, 0) {
		got = fmt.Sprintf("%.2f%s", c.Got, c.Unit)
	}
	return fmt.Sprintf("%-48s %12s  (target %s %.2f%s)  %s", c.What, got, c.Op, c.Want, c.Unit, c.verdict())
}

// ratio is a/b, NaN if either was not measured.
func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return math.NaN()
	}
	return a / b
}

// measured is d's value, NaN if d did not run.
func measured(d drain, f func(drain) float64) float64 {
	if d.Last.At.IsZero() {
		return math.NaN()
	}
	return f(d)
}

// durMS is d in milliseconds, NaN for a negative (not measured) d.
func durMS(d time.Duration, ok bool) float64 {
	if !ok || d < 0 {
		return math.NaN()
	}
	return float64(d) / float64(time.Millisecond)
}

// deltaMS is a change of duration d in ms, negative for a fall (NaN if
// not measured, !ok).
func deltaMS(d time.Duration, ok bool) float64 {
	if !ok {
		return math.NaN()
	}
	return float64(d) / float64(time.Millisecond)
}

// checks are the targets against what was measured.
func (r *report) checks() []check {
	rate := func(d drain) float64 { return d.Rate() }
	cpu := func(d drain) float64 { return d.CPUPer10k() }
	cs := []check{
		{"collector rate / Telegraf's (MQTT->Kafka)", ratio(measured(r.collect1, rate), measured(r.tgCollect, rate)), ">=", 1.3, "x"},
		{"collector CPU-s per 10,000 messages", measured(r.collect1, cpu), "<=", 0.35, ""},
		{"two collectors in one $share group / one", ratio(measured(r.collect2, rate), measured(r.collect1, rate)), ">=", 1.6, "x"},
		{"processor rate / Telegraf's (Kafka->InfluxDB)", ratio(measured(r.process, rate), measured(r.tgProcess, rate)), ">=", 1.5, "x"},
		{"processor CPU-s per 10,000 readings", measured(r.process, cpu), "<=", 0.15, ""},
		{"processor Kafka bytes per reading / reading's", ratio(r.bytes.PerReading(), r.bytes.ReadingSize()), "<=", 2, "x"},
	}
	for _, e := range r.e2e {
		ok := e.Parsed && e.P50 > 0
		name := fmt.Sprintf("e2e %.0f msg/s", e.Rate)
		if e.Mode == "embedded" {
			if e.Rate == 10000 {
				drained := math.NaN()
				if e.Parsed && e.AfterLast >= 0 {
					drained = float64(e.AfterLast) / float64(time.Millisecond)
				}
				cs = append(cs, check{"embedded 10000 msg/s end to end / target", ratio(e.Throughput, e.Rate), ">=", 0.98, "x"},
					check{"embedded 10000 msg/s backlog after the last publish (ms)", drained, "<=", 1000, ""},
					check{"embedded 10000 msg/s readings lost or unprocessed", float64(e.Unprocessed), "<=", 0, ""})
			}
			continue
		}
		switch e.Rate {
		case 1000:
			cs = append(cs, check{name + " publish->alert p50 (ms)", durMS(e.P50, ok), "<=", 10, ""},
				check{name + " publish->alert p99 (ms)", durMS(e.P99, ok), "<=", 50, ""})
		case 10000:
			cs = append(cs, check{name + " publish->alert p99 (ms)", durMS(e.P99, ok), "<=", 250, ""},
				check{name + " readings lost or unprocessed", float64(e.Unprocessed), "<=", 0, ""},
				check{name + " p50 growth, first to last slice (ms)", deltaMS(e.LastP50-e.FirstP50, ok && e.Slices > 1), "<=", 50, ""})
		}
	}
	return cs
}

// minSpan is the shortest drain whose rate and CPU mean much.
const minSpan = 2 * time.Second

// shortSpan reports whether a measured drain was shorter than minSpan.
func (r *report) shortSpan() bool {
	for _, nd := range r.namedDrains() {
		if d := nd.d; !d.Last.At.IsZero() && d.Last.At.Sub(d.First.At) < minSpan {
			return true
		}
	}
	return false
}

// cell formats one drain for the table.
func cell(d drain, unit string) string {
	if d.Last.At.IsZero() {
		return "–"
	}
	return fmt.Sprintf("%5.1fk %s, %.2f CPU-s/10k", d.Rate()/1000, unit, d.CPUPer10k())
}

func (r *report) print(w io.Writer) {
	o := r.opts
	fmt.Fprintf(w, "\n=== make bench: side by side, one machine (%d readings from %d stations, QoS 1, %d partitions) ===\n",
		o.Readings, o.Stations, o.Partitions)
	tg := "Telegraf " + r.telegrafVersion
	if o.SkipTelegraf {
		tg += " (skipped)"
	}
	fmt.Fprintf(w, "%-34s | %-30s | %-30s | %-30s\n", "hop", "bare paho subscriber (ceiling)", tg, "resilience")
	fmt.Fprintf(w, "%s\n", strings.Repeat("-", 34+30*3+9))
	fmt.Fprintf(w, "%-34s | %-30s | %-30s | %-30s\n", "MQTT -> Kafka, draining a backlog", cell(r.paho, "msg/s"), cell(r.tgCollect, "msg/s"), cell(r.collect1, "msg/s"))
	fmt.Fprintf(w, "%-34s | %-30s | %-30s | %-30s\n", "  two collectors, one $share group", "", "", cell(r.collect2, "msg/s"))
	fmt.Fprintf(w, "%-34s | %-30s | %-30s | %-30s\n", "Kafka -> InfluxDB", "–", cell(r.tgProcess, "pts/s"), cell(r.process, "pts/s"))
	if r.bytes.Readings > 0 {
		var parts []string
		for _, t := range r.bytes.Topics {
			parts = append(parts, fmt.Sprintf("%s %d B in %d records", t.Topic, t.Bytes, t.Records))
		}
		fmt.Fprintf(w, "processor Kafka bytes per reading: %.0f (%s) for a %.0f-byte reading record\n",
			r.bytes.PerReading(), strings.Join(parts, ", "), r.bytes.ReadingSize())
	}
	if !o.SkipTelegraf {
		fmt.Fprintf(w, "Telegraf: metric_batch_size %d (hop 1) / %d (hop 2), max_undelivered_messages %d, flush_interval 100ms, acks=all; resilience: its defaults\n",
			o.TelegrafBatch1, o.TelegrafBatch2, o.TelegrafUndelivered)
	}
	var spans, cores []string
	for _, d := range r.namedDrains() {
		if d.d.Last.At.IsZero() {
			continue
		}
		spans = append(spans, fmt.Sprintf("%s %.1fs", d.name, d.d.Seconds()))
		parts := []string{fmt.Sprintf("itself %.2f", d.d.Cores())}
		for i, c := range d.d.ServerCores() {
			if c >= 0 {
				parts = append(parts, fmt.Sprintf("%s %.2f", serverNames[i], c))
			}
		}
		cores = append(cores, d.name+": "+strings.Join(parts, " "))
	}
	if len(spans) > 0 {
		fmt.Fprintf(w, "drain spans (first to last message): %s\n", strings.Join(spans, ", "))
		fmt.Fprintf(w, "cores busy during each drain (CPU-s per second of its span, of 2.00; the drainer itself, then the servers; Mosquitto has one thread): %s\n", strings.Join(cores, " | "))
	}
	if r.shortSpan() {
		fmt.Fprintf(w, "NOTE: a drain shorter than %s is dominated by the 50 ms polling and /proc's 10 ms CPU ticks: use more -readings for figures\n", minSpan)
	}
	if len(r.e2e) > 0 {
		fmt.Fprintf(w, "\nend to end (cmd/loadtest, %d stations, %s each; servers: Mosquitto, Kafka, InfluxDB; embedded: run --dev):\n", o.E2EStations, o.E2EDuration)
		fmt.Fprintf(w, "%-9s | %-10s | %-12s | %-17s | %-10s | %-10s | %-28s | %s\n", "mode", "target", "published", "end-to-end", "p50", "p99", "backlog", "lost")
		for _, e := range r.e2e {
			after := "never drained"
			if e.AfterLast >= 0 {
				after = "drained " + e.AfterLast.Round(time.Millisecond).String() + " after end"
			}
			if e.Slices > 1 {
				after += fmt.Sprintf(", p50 %s->%s", ms(e.FirstP50), ms(e.LastP50))
			}
			lost := "none"
			if e.Loss != "" {
				lost = e.Loss
			}
			thr := "n/a (not drained)"
			if e.Throughput > 0 {
				thr = fmt.Sprintf("%.0f readings/s", e.Throughput)
			}
			fmt.Fprintf(w, "%-9s | %-10s | %-12s | %-17s | %-10s | %-10s | %-28s | %s\n", e.Mode, fmt.Sprintf("%.0f/s", e.Rate), fmt.Sprintf("%.0f/s", e.Achieved),
				thr, ms(e.P50), ms(e.P99), after, lost)
		}
	}
	fmt.Fprintf(w, "\ntargets (issue 10):\n")
	for _, c := range r.checks() {
		fmt.Fprintf(w, "  %s\n", c)
	}
	r.printShares(w)
}

// namedDrains are the drains of the table, named as the report names
// them, in the order they ran.
func (r *report) namedDrains() []struct {
	name string
	d    drain
} {
	return []struct {
		name string
		d    drain
	}{{"paho", r.paho}, {"telegraf hop 1", r.tgCollect}, {"collector", r.collect1}, {"2 collectors", r.collect2},
		{"telegraf hop 2", r.tgProcess}, {"processor", r.process}}
}

// printShares says what shared the cores during the drains and during
// the load tests.
func (r *report) printShares(w io.Writer) {
	printWindow(w, "the drains (bench itself: the backlog publisher, the InfluxDB counting proxy, the topic scans)",
		r.cpuBefore, r.cpuAfter, r.startedAt, r.endedAt)
	printWindow(w, "the load tests (loadtest: publisher and alert watcher; resilience: the binary under test)",
		r.e2eBefore, r.e2eAfter, r.e2eStart, r.e2eEnd)
}

// printWindow lists the processes that used the most CPU in one window
// (those still alive at its end: a drainer that exited is in the table).
func printWindow(w io.Writer, what string, before, after snapshot, start, end time.Time) {
	if before == nil || after == nil {
		return
	}
	wall := end.Sub(start).Seconds()
	top, total := topUsers(before, after, 12, 0.5)
	fmt.Fprintf(w, "\nwhat shared the %d cores during %s: %.0f s wall = %.0f CPU-s available, %.0f CPU-s used by processes alive at the end:\n",
		numCPU(), what, wall, wall*float64(numCPU()), total)
	for _, u := range top {
		fmt.Fprintf(w, "  %7.1f CPU-s  pid %-7d %s\n", u.CPU, u.Pid, u.Comm)
	}
}

func ms(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

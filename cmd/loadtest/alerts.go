package main

import (
	"time"

	"github.com/resilience-project/resilience/internal/testenv/harness"
	"github.com/resilience-project/resilience/schemas"
)

// measuredRule is the rule whose fired events are timed.
const measuredRule = "level:water_level"

// alertsSeen folds what w read from the alerts topic (each event id once:
// the processor may emit an event twice): the measured rule's fired
// events, by causing reading (the event's last ReadingRef), at their first
// receive time (and the Kafka record time of that receipt), and the number of events per rule and kind.
func alertsSeen(w *harness.AlertWatch) (fired, produced map[key]time.Time, kinds map[string]int) {
	events := w.Events()
	seen := w.Seen() // after Events: it has every event of that snapshot
	prod := w.Produced()
	fired, produced, kinds = map[key]time.Time{}, map[key]time.Time{}, map[string]int{}
	for id, ev := range events {
		kinds[ev.Rule+" "+string(ev.Kind)]++
		if ev.Kind != schemas.AlertFired || ev.Rule != measuredRule || len(ev.Readings) == 0 {
			continue
		}
		k := key{ev.Station, ev.Readings[len(ev.Readings)-1].Seq}
		if t, dup := fired[k]; !dup || seen[id].Before(t) {
			fired[k], produced[k] = seen[id], prod[id]
		}
	}
	return fired, produced, kinds
}

package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/resilience-project/resilience/internal/httpapi"
	"github.com/resilience-project/resilience/schemas"
)

// feedSource is an AlertReader and StationReader whose contents the test
// changes.
type feedSource struct {
	mu       sync.Mutex
	looks    int // ListAlerts calls
	alerts   []httpapi.Alert
	stations []schemas.StationStatus
	// seen makes the stations readable through httpapi.SeenStations
	// (stationsFor); listed counts the Stations calls.
	seen   bool
	listed int
}

func (f *feedSource) ListAlerts(httpapi.AlertFilter) []httpapi.Alert {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.looks++
	return append([]httpapi.Alert(nil), f.alerts...)
}

func (f *feedSource) GetAlert(id string) (httpapi.Alert, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.alerts {
		if a.ID == id {
			a.History = []httpapi.AlertTransition{{Kind: "fired", ID: "e1"}}
			return a, true
		}
	}
	return httpapi.Alert{}, false
}

func (f *feedSource) Stations() []schemas.StationStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listed++
	return append([]schemas.StationStatus(nil), f.stations...)
}

// seenSource reads a feedSource's stations as an httpapi.SeenStations.
type seenSource struct{ *feedSource }

func (f seenSource) EachSeen(fn func(id string, seq uint64, seen *time.Time)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.stations {
		fn(x.ID, x.LastSeq, x.LastSeen)
	}
}

func (f seenSource) Station(id string) (schemas.StationStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.stations {
		if x.ID == id {
			return x, true
		}
	}
	return schemas.StationStatus{}, false
}

// stationsFor is the station reader the feed reads src through.
func stationsFor(src *feedSource) httpapi.StationReader {
	if src.seen {
		return seenSource{src}
	}
	return src
}

func (f *feedSource) Recent(string, schemas.Sensor, time.Time) []schemas.SensorValue { return nil }

func (f *feedSource) change(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// startFeed runs an event hub and the feed over src (looking every
// interval, the API's clock at now) until the test ends, opens a stream
// from firstID and returns once the feed has taken its baseline (looked
// twice: nothing that was there at start is published).
func startFeed(t *testing.T, src *feedSource, firstID uint64, interval time.Duration, now time.Time) (*httpapi.Events, *sseReader) {
	t.Helper()
	return startFeedOn(t, src, src, 2, firstID, interval, now)
}

// startFeedOn is startFeed with the alerts read from alerts, returning
// once src counted looks listings.
func startFeedOn(t *testing.T, alerts httpapi.AlertReader, src *feedSource, looks int, firstID uint64, interval time.Duration, now time.Time) (*httpapi.Events, *sseReader) {
	t.Helper()
	hub, err := httpapi.NewEvents(httpapi.EventsOptions{FirstID: firstID})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Options{Alerts: alerts, Stations: stationsFor(src), Events: hub, Now: func() time.Time { return now }})
	hs := httptest.NewServer(hub.Stream(nil))
	t.Cleanup(hs.Close) // after the hub ended its streams (the cleanup below)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); hub.Run(ctx) }()
	go func() { defer wg.Done(); srv.RunEventFeed(ctx, interval) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	_, r := openStream(t, fmt.Sprintf("%s?last_event_id=%d", hs.URL, firstID), nil)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		src.mu.Lock()
		n := src.looks
		src.mu.Unlock()
		if n >= looks {
			// the stream woke the feed: its baseline, then a reload
			if ev := readN(t, r, 1)[0]; ev.Kind != "reload" || ev.ID != fmt.Sprint(firstID+1) {
				t.Fatalf("first event %+v, want the wake's reload as %d", ev, firstID+1)
			}
			return hub, r
		}
		if time.Now().After(deadline) {
			t.Fatal("the feed never looked at the alerts")
		}
	}
}

// TestEventFeed: the feed publishes nothing for what was there at start,
// then one event per change: an acknowledged alert (with its history, as
// GET /api/v1/alerts/{id}), a new alert, a station's new reading.
// Both ways of reading the stations: a listing of every station, or the
// keys first (httpapi.SeenStations), when the feed lists none.
func TestEventFeed(t *testing.T) {
	for _, seen := range []bool{false, true} {
		t.Run(fmt.Sprintf("seen=%v", seen), func(t *testing.T) { testEventFeed(t, seen) })
	}
}

func testEventFeed(t *testing.T, seen bool) {
	t0 := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	src := &feedSource{
		alerts:   []httpapi.Alert{{ID: "A1", Station: "VG-AINGHIA", Rule: "level:water_level", State: httpapi.AlertFiring, Level: 3, UpdatedAt: t0, Events: 1}},
		stations: []schemas.StationStatus{{ID: "VG-AINGHIA", LastSeen: &t0, LastSeq: 1}},
		seen:     seen,
	}
	hub, r := startFeed(t, src, 1000, 5*time.Millisecond, t0)

	t1 := t0.Add(time.Minute)
	src.change(func() {
		src.alerts[0].State, src.alerts[0].UpdatedAt = httpapi.AlertAcknowledged, t1
		src.alerts[0].Ack = &httpapi.AlertAck{By: "op", At: t1}
	})
	ev := readN(t, r, 1)[0]
	var a httpapi.Alert
	if err := json.Unmarshal([]byte(ev.Data), &a); err != nil {
		t.Fatal(err)
	}
	if ev.ID != "1002" || ev.Kind != "alert" || a.ID != "A1" || a.State != httpapi.AlertAcknowledged || a.Ack == nil || len(a.History) != 1 {
		t.Fatalf("first event %+v (%+v), want alert A1 acknowledged with its history as the first event after the baseline", ev, a)
	}

	src.change(func() {
		src.alerts = append(src.alerts, httpapi.Alert{ID: "A2", Station: "TB-HOIAN", State: httpapi.AlertFiring, UpdatedAt: t1, Events: 1})
		ts := t1
		src.stations[0].LastSeen, src.stations[0].LastSeq = &ts, 2
	})
	got := map[string]string{}
	for _, ev := range readN(t, r, 2) {
		var x struct{ ID string }
		json.Unmarshal([]byte(ev.Data), &x)
		got[ev.Kind] = x.ID
	}
	if got["alert"] != "A2" || got["station"] != "VG-AINGHIA" {
		t.Fatalf("events %v, want alert A2 and station VG-AINGHIA", got)
	}
	if last := hub.LastID(); last != 1004 {
		t.Fatalf("last id %d, want 1003: a change was published more than once", last)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if seen && src.listed > 0 {
		t.Errorf("the feed listed every station %d times; it reads a SeenStations by its keys", src.listed)
	}
}

// TestEventFeedHoldsBackAStationsChanges: a station changing at every look
// (a backlog drain) is published at most once per ten looks, and its last
// state is published once it stops changing: nothing is lost, the latest
// state arrives.
func TestEventFeedHoldsBackAStationsChanges(t *testing.T) {
	for _, seen := range []bool{false, true} {
		t.Run(fmt.Sprintf("seen=%v", seen), func(t *testing.T) { testEventFeedHoldsBack(t, seen) })
	}
}

func testEventFeedHoldsBack(t *testing.T, seen bool) {
	t0 := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	src := &feedSource{stations: []schemas.StationStatus{{ID: "VG-AINGHIA", LastSeen: &t0, LastSeq: 1}}, seen: seen}
	const interval = 5 * time.Millisecond // a station at most every 50 ms
	_, r := startFeed(t, src, 1, interval, t0)
	start := time.Now()
	const changes = 300
	for seq := uint64(2); seq <= changes+1; seq++ {
		src.change(func() { src.stations[0].LastSeq = seq })
		time.Sleep(time.Millisecond)
	}
	events := 0
	for {
		ev := readN(t, r, 1)[0]
		var st schemas.StationStatus
		if err := json.Unmarshal([]byte(ev.Data), &st); err != nil || ev.Kind != "station" {
			t.Fatalf("event %+v: want a station (%v)", ev, err)
		}
		events++
		if st.LastSeq == changes+1 {
			break
		}
	}
	elapsed := time.Since(start)
	if most := int(elapsed/(10*interval)) + 2; events > most {
		t.Fatalf("%d station events in %v, want at most %d (one per 10 looks)", events, elapsed, most)
	}
	if events >= changes {
		t.Fatalf("%d station events for %d changes: nothing held back", events, changes)
	}
	t.Logf("%d changes in %v published as %d events, the last with the last state", changes, elapsed, events)
}

// versionedSource is a feedSource that counts its changes (and how
// often the feed asked for the count).
type versionedSource struct {
	*feedSource
	version uint64
	asks    int
}

func (v *versionedSource) Version() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.asks++
	return v.version
}

// TestEventFeedListsAlertsOnlyWhenTheyMoved: with an alert reader that
// counts its changes, the feed does not list the alerts while the count
// stands still, and publishes a change once it moves.
func TestEventFeedListsAlertsOnlyWhenTheyMoved(t *testing.T) {
	t0 := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	src := &versionedSource{feedSource: &feedSource{
		alerts: []httpapi.Alert{{ID: "A1", Station: "VG-AINGHIA", State: httpapi.AlertFiring, Level: 2, UpdatedAt: t0, Events: 1}}}}
	// The baseline lists once; then 20 more looks, none of which may list.
	_, r := startFeedOn(t, src, src.feedSource, 1, 1, 2*time.Millisecond, t0)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		src.mu.Lock()
		asks := src.asks
		src.mu.Unlock()
		if asks >= 21 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feed looked %d times in 30 s", asks)
		}
	}
	src.mu.Lock()
	looks := src.looks
	src.mu.Unlock()
	if looks != 1 {
		t.Fatalf("%d listings while the version stood still, want the baseline's only", looks)
	}
	t1 := t0.Add(time.Minute)
	src.change(func() {
		src.alerts[0].State, src.alerts[0].UpdatedAt = httpapi.AlertAcknowledged, t1
		src.version++
	})
	ev := readN(t, r, 1)[0]
	var a httpapi.Alert
	if err := json.Unmarshal([]byte(ev.Data), &a); err != nil || ev.Kind != "alert" || a.State != httpapi.AlertAcknowledged {
		t.Fatalf("event %+v (%v), want alert A1 acknowledged once the version moved", ev, err)
	}
}

// changedSource is a versionedSource that names the alerts each change
// touched, or refuses (ok false) while refuse is set.
type changedSource struct {
	*versionedSource
	touched map[uint64]string // version → the alert it changed
	refuse  bool
	asked   int // ChangedSince calls
}

func (c *changedSource) ChangedSince(v uint64) ([]string, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked++
	if c.refuse {
		return nil, c.version, false
	}
	var ids []string
	for w := v + 1; w <= c.version; w++ {
		ids = append(ids, c.touched[w])
	}
	return ids, c.version, true
}

// TestEventFeedReadsOnlyChangedAlerts: with a reader that names the
// changed alerts, the feed publishes a change without listing the alerts
// (one GetAlert of the changed one), and lists again when the reader can
// no longer tell.
func TestEventFeedReadsOnlyChangedAlerts(t *testing.T) {
	t0 := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	var alerts []httpapi.Alert
	for i := 0; i < 50; i++ {
		alerts = append(alerts, httpapi.Alert{ID: fmt.Sprintf("A%02d", i), Station: "VG-AINGHIA", State: httpapi.AlertFiring, Level: 1, UpdatedAt: t0, Events: 1})
	}
	src := &changedSource{versionedSource: &versionedSource{feedSource: &feedSource{alerts: alerts}}, touched: map[uint64]string{}}
	_, r := startFeedOn(t, src, src.feedSource, 1, 1, 2*time.Millisecond, t0)
	change := func(i int, state httpapi.AlertState, at time.Time) {
		src.change(func() {
			src.alerts[i].State, src.alerts[i].UpdatedAt = state, at
			src.version++
			src.touched[src.version] = src.alerts[i].ID
		})
	}
	change(7, httpapi.AlertAcknowledged, t0.Add(time.Minute))
	ev := readN(t, r, 1)[0]
	var a httpapi.Alert
	if err := json.Unmarshal([]byte(ev.Data), &a); err != nil || a.ID != "A07" || a.State != httpapi.AlertAcknowledged {
		t.Fatalf("event %+v (%v), want A07 acknowledged", ev, err)
	}
	src.mu.Lock()
	looks, asked := src.looks, src.asked
	src.mu.Unlock()
	if looks != 1 || asked == 0 {
		t.Fatalf("%d listings and %d ChangedSince calls: want the baseline's listing only, the change read from the journal", looks, asked)
	}
	// While the reader refuses, the feed lists, and still publishes a
	// change once.
	src.change(func() { src.refuse = true })
	change(9, httpapi.AlertAcknowledged, t0.Add(2*time.Minute))
	ev = readN(t, r, 1)[0]
	if err := json.Unmarshal([]byte(ev.Data), &a); err != nil || a.ID != "A09" || a.State != httpapi.AlertAcknowledged {
		t.Fatalf("event %+v (%v), want A09 acknowledged from a listing", ev, err)
	}
	src.mu.Lock()
	looks = src.looks
	src.mu.Unlock()
	if looks < 2 {
		t.Fatalf("%d listings while the reader refused, want a new one", looks)
	}
}

// TestEventFeedRestsWhileUnwatched: the feed starts resting until a
// stream opens; with no stream open any more it keeps looking for a
// while, then rests (it looks at nothing, publishes nothing) and moves the
// ids on; a stream resuming from before is told to reload, a new one gets
// the changes made after it opened.
func TestEventFeedRestsWhileUnwatched(t *testing.T) {
	t0 := time.Date(2026, 10, 28, 3, 0, 0, 0, time.UTC)
	src := &feedSource{stations: []schemas.StationStatus{{ID: "VG-AINGHIA", LastSeen: &t0, LastSeq: 1}}}
	const firstID = 5000
	hub, err := httpapi.NewEvents(httpapi.EventsOptions{FirstID: firstID})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Options{Alerts: src, Stations: src, Events: hub, Now: func() time.Time { return t0 }})
	hs := httptest.NewServer(hub.Stream(nil))
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); hub.Run(ctx) }()
	go func() { defer wg.Done(); srv.RunEventFeed(ctx, 2*time.Millisecond) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	looks := func() int {
		src.mu.Lock()
		defer src.mu.Unlock()
		return src.looks
	}

	// Nobody has watched yet: the feed starts resting.
	time.Sleep(100 * time.Millisecond) // 50 intervals
	if n := looks(); n != 0 {
		t.Fatalf("the feed looked %d times before any stream opened", n)
	}
	if hub.LastID() != firstID {
		t.Fatalf("last id %d before any stream, want %d (nothing to forget)", hub.LastID(), firstID)
	}
	// The first stream wakes it: a baseline, then the changes.
	resp, first := openStream(t, hs.URL, nil)
	for deadline := time.Now().Add(30 * time.Second); looks() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the feed did not look once the first stream opened")
		}
	}
	src.change(func() {
		ts := t0.Add(30 * time.Second)
		src.stations[0].LastSeen, src.stations[0].LastSeq = &ts, 2
	})
	evs := readN(t, first, 2)
	if ev := evs[0]; ev.Kind != "reload" || ev.ID != fmt.Sprint(firstID+1) {
		t.Fatalf("the first stream got %+v first, want the wake's reload as event %d", ev, firstID+1)
	}
	if ev := evs[1]; ev.Kind != "station" || ev.ID != fmt.Sprint(firstID+2) {
		t.Fatalf("the first stream got %+v, want the station change as event %d", ev, firstID+2)
	}
	resp.Body.Close()
	// With that stream closed, the feed looks for the grace, then rests.
	woke := looks()
	for deadline := time.Now().Add(30 * time.Second); hub.LastID() == firstID+2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the feed never rested with nobody watching")
		}
	}
	if hub.LastID() != firstID+3 {
		t.Fatalf("last id %d after resting, want %d (moved on by one, no event)", hub.LastID(), firstID+3)
	}
	// the grace is 100 intervals: 99 looks, and the 100th forgets
	if n := looks() - woke; n < 99 {
		t.Fatalf("rested after %d looks, want the grace of 100 intervals first", n)
	}
	rested := looks()
	src.change(func() {
		ts := t0.Add(time.Minute)
		src.stations[0].LastSeen, src.stations[0].LastSeq = &ts, 3
	})
	time.Sleep(100 * time.Millisecond) // 50 intervals
	if n := looks(); n != rested {
		t.Errorf("the feed looked %d times while resting", n-rested)
	}
	if hub.LastID() != firstID+3 {
		t.Errorf("the feed published while resting (last id %d)", hub.LastID())
	}

	_, old := openStream(t, fmt.Sprintf("%s?last_event_id=%d", hs.URL, firstID+2), nil)
	if ev := readN(t, old, 1)[0]; ev.Kind != "reload" {
		t.Fatalf("a stream resuming from before the rest got %+v, want a reload", ev)
	}
	_, r := openStream(t, hs.URL, nil)
	// Two looks: the new baseline is taken whole before the change.
	for deadline := time.Now().Add(30 * time.Second); looks() < rested+2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the feed did not look again once a stream opened")
		}
	}
	src.change(func() {
		ts := t0.Add(2 * time.Minute)
		src.stations[0].LastSeen, src.stations[0].LastSeq = &ts, 4
	})
	ev := readN(t, r, 1)[0]
	for ev.Kind == "reload" { // the wake's, if it came after r opened
		ev = readN(t, r, 1)[0]
	}
	var x schemas.StationStatus
	if err := json.Unmarshal([]byte(ev.Data), &x); err != nil {
		t.Fatal(err)
	}
	if ev.Kind != "station" || x.LastSeq != 4 {
		t.Fatalf("after the rest the new stream got %+v (seq %d), want the station at seq 4", ev, x.LastSeq)
	}
}

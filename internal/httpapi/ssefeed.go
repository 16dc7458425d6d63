package httpapi

import (
	"context"
	"sort"
	"time"

	"github.com/resilience-project/resilience/schemas"
)

// DefaultFeedInterval is how often RunEventFeed looks for changes.
const DefaultFeedInterval = 100 * time.Millisecond

// stationEventEvery is, in feed intervals, how often at most one station's
// changes are published (1 s by default): a console needs no more, and a
// backlog drain, every station changing at every look, made the station
// events a quarter of the processor's CPU. A change held back is published
// at the first look after that (the latest state; none is lost).
const stationEventEvery = 10

// feedRestAfter is, in feed intervals, how long the feed keeps looking
// with no stream open (10 s by default): a console that reconnects within
// it resumes where it was. After that the feed rests (Events.Forget: a
// stream resuming from before must reload) until a stream opens, then takes
// a new baseline and publishes a reload (wakeReload). Looking at every station ten times a second for nobody
// was 6% of the processor's CPU in a drain.
const feedRestAfter = 100

// alertKey is what tells that an alert changed: every lifecycle step and
// operator action moves one of these.
type alertKey struct {
	updated  time.Time
	state    AlertState
	events   int
	level    int
	acked    bool
	assignee string
	resolver string
	history  int
}

func keyOfAlert(a Alert) alertKey {
	return alertKey{a.UpdatedAt, a.State, a.Events, a.Level, a.Ack != nil, a.Assignee, a.ResolvedBy, len(a.History) + a.HistoryDropped}
}

// stationKey is what tells that a station changed: a new reading or its
// offline state.
type stationKey struct {
	seq     uint64
	seen    time.Time
	offline bool
}

// RunEventFeed publishes to o.Events what changes in o.Alerts and
// o.Stations (the readers the API serves from, so an event's data is what
// the API would answer: an alert as GET /api/v1/alerts/{id}, a station as
// an element of GET /api/v1/stations) until ctx is done. The readers have
// no change hooks, so it compares them every interval (DefaultFeedInterval
// when 0); the first look is the baseline and publishes nothing (a new
// client loads the lists, then follows). With no stream open for
// feedRestAfter looks it rests (see there), and it starts resting when no
// stream is open yet; when a stream opens it wakes: a new baseline, then a
// reload event (the streams open then reload their lists). It returns nil
// at ctx's end, and at once when the server has no Events.
func (s *Server) RunEventFeed(ctx context.Context, interval time.Duration) error {
	if s.o.Events == nil {
		return nil
	}
	if interval <= 0 {
		interval = DefaultFeedInterval
	}
	f := newFeed(interval)
	unwatched := 0 // looks in a row with no stream open
	if s.o.Events.Watched() {
		s.feedOnce(f, false)
	} else {
		// Nobody watches yet: rest from the start (a process that starts
		// into a backlog drain spent its first 10 s looking for nobody).
		// No id of this process was handed out, so nothing to forget.
		unwatched = feedRestAfter
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		switch watched := s.o.Events.Watched(); {
		case !watched && unwatched >= feedRestAfter:
			continue // resting
		case !watched:
			if unwatched++; unwatched == feedRestAfter {
				s.o.Events.Forget()
				continue
			}
		case unwatched >= feedRestAfter: // a stream opened: a new baseline
			f, unwatched = newFeed(interval), 0
			s.feedOnce(f, false)
			s.wakeReload()
			continue
		default:
			unwatched = 0
		}
		s.feedOnce(f, true)
	}
}

// wakeReload tells the streams open when the feed woke to reload their
// lists: what changed between a client's listing and the new baseline is
// in no event (the feed was not looking), so without it a console that
// listed just before would miss it.
func (s *Server) wakeReload() {
	if _, err := s.o.Events.Publish(EventReload, map[string]string{"reason": "the event feed woke: reload the lists"}); err != nil {
		s.o.Logger.Warn("events: publish reload", "err", err)
	}
}

// newFeed is a feed that has seen nothing yet.
func newFeed(interval time.Duration) *feed {
	return &feed{alerts: map[string]alertKey{}, stations: map[string]stationKey{},
		published: map[string]time.Time{}, every: stationEventEvery * interval}
}

// feed is what RunEventFeed last saw and when it last published each
// station (monotonic time).
type feed struct {
	alerts    map[string]alertKey
	stations  map[string]stationKey
	published map[string]time.Time
	every     time.Duration
	// version is the alert reader's Version at the last listing (when it
	// has one: VersionedAlerts), seen whether that listing happened.
	version uint64
	seen    bool
}

// VersionedAlerts is an AlertReader that counts its changes: the feed
// lists the alerts only when Version moved (a listing of every alert
// every 100 ms was a tenth of resilience run's CPU in an alert storm).
type VersionedAlerts interface {
	Version() uint64
}

// ChangedAlerts is a VersionedAlerts that also tells which alerts changed
// since a version (ok false: it cannot tell any more, the feed lists).
// The feed then reads only those (at a thousand alert events a second, a
// listing of every alert at every look was a third of resilience run's
// CPU).
type ChangedAlerts interface {
	VersionedAlerts
	ChangedSince(v uint64) (ids []string, cur uint64, ok bool)
}

// feedOnce compares the readers with the last keys and, if publish is
// set, publishes what changed (a station at most once per f.every).
func (s *Server) feedOnce(f *feed, publish bool) {
	s.feedAlerts(f, publish)
	s.feedStations(f, publish)
}

// feedAlerts publishes the alerts that changed: those the reader names
// (ChangedAlerts), else those a listing shows changed.
func (s *Server) feedAlerts(f *feed, publish bool) {
	if c, ok := s.o.Alerts.(ChangedAlerts); ok && f.seen {
		if ids, cur, ok := c.ChangedSince(f.version); ok {
			f.version = cur
			for _, id := range ids {
				a, ok := s.o.Alerts.GetAlert(id)
				if !ok {
					delete(f.alerts, id) // aged out of the store
					continue
				}
				s.feedAlert(f, a, publish)
			}
			return
		}
	}
	alerts := f.alerts
	if v, ok := s.o.Alerts.(VersionedAlerts); ok {
		cur := v.Version() // before the listing: a change during it is seen next time
		if f.seen && cur == f.version {
			alerts = nil // nothing changed
		}
		f.version, f.seen = cur, true
	}
	if s.o.Alerts == nil || alerts == nil {
		return
	}
	seen := make(map[string]bool, len(alerts))
	for _, a := range s.o.Alerts.ListAlerts(AlertFilter{}) {
		seen[a.ID] = true
		if old, ok := alerts[a.ID]; ok && old == keyOfAlert(a) {
			continue
		}
		full, ok := a, true
		if publish {
			full, ok = s.o.Alerts.GetAlert(a.ID) // with its history
		}
		if ok {
			s.feedAlert(f, full, publish)
		}
	}
	for id := range alerts {
		if !seen[id] {
			delete(alerts, id) // aged out of the store
		}
	}
}

// feedAlert records alert a (as GetAlert returns it) and, if it changed
// and publish is set, publishes it.
func (s *Server) feedAlert(f *feed, a Alert, publish bool) {
	k := keyOfAlert(a)
	if old, ok := f.alerts[a.ID]; ok && old == k {
		return
	}
	f.alerts[a.ID] = k
	if !publish {
		return
	}
	a = complete(a)
	if a.History == nil {
		a.History = []AlertTransition{}
	}
	s.publish(EventAlert, a)
}

// SeenStations is a StationReader that lists what the feed compares (id,
// last seq, last reading time) without copying every station, and reads
// one station: the feed then copies only the stations that changed (a
// copy of every station at every look was 7% of the processor's CPU in a
// backlog drain).
type SeenStations interface {
	EachSeen(fn func(id string, seq uint64, seen *time.Time))
	Station(id string) (schemas.StationStatus, bool)
}

// feedStations publishes the stations that changed, each at most once per
// f.every.
func (s *Server) feedStations(f *feed, publish bool) {
	if s.o.Stations == nil {
		return
	}
	now := s.o.Now()
	if w, ok := s.o.Stations.(SeenStations); ok {
		var changed []string
		w.EachSeen(func(id string, seq uint64, seen *time.Time) {
			if s.stationChanged(f, id, seq, seen, now, publish) {
				changed = append(changed, id)
			}
		})
		sort.Strings(changed)
		for _, id := range changed {
			if x, ok := w.Station(id); ok {
				s.publish(EventStation, s.station(x, now))
			}
		}
		return
	}
	for _, x := range s.o.Stations.Stations() {
		if s.stationChanged(f, x.ID, x.LastSeq, x.LastSeen, now, publish) {
			s.publish(EventStation, s.station(x, now))
		}
	}
}

// stationChanged records the feed key of station id and reports whether
// it is to be published: it changed, publish is set and the station was
// not published within f.every (held back, it is still a change at the
// next look).
func (s *Server) stationChanged(f *feed, id string, seq uint64, seen *time.Time, now time.Time, publish bool) bool {
	var reg *schemas.Station
	if s.o.Registry != nil {
		reg = s.o.Registry.Lookup(id)
	}
	k := stationKey{seq: seq, offline: offline(seen, reg, s.o.OfflineIntervals, now)}
	if seen != nil {
		k.seen = *seen
	}
	if old, ok := f.stations[id]; ok && old == k {
		return false
	}
	if publish {
		mono := time.Now()
		if last, ok := f.published[id]; ok && mono.Sub(last) < f.every {
			return false
		}
		f.published[id] = mono
	}
	f.stations[id] = k
	return publish
}

func (s *Server) publish(kind EventKind, v any) {
	if _, err := s.o.Events.Publish(kind, v); err != nil {
		s.o.Logger.Error("event not published", "kind", kind, "err", err)
	}
}

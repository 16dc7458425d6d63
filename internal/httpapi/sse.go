package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/resilience-project/resilience/internal/auth"
)

// EventKind names a server-sent event.
type EventKind string

// The events of GET /api/v1/events.
const (
	// EventAlert: an alert changed (any lifecycle step, action or
	// comment); the data is the alert as GET /api/v1/alerts/{id} shows it.
	EventAlert EventKind = "alert"
	// EventStation: a station's status changed (a new reading); the data
	// is the station as GET /api/v1/stations lists it.
	EventStation EventKind = "station"
	// EventReload: the client's Last-Event-ID is no longer (or never was)
	// in the ring; it must reload the lists, then follow the stream.
	EventReload EventKind = "reload"
)

// Defaults of EventsOptions.
const (
	DefaultEventRing      = 10000
	DefaultHeartbeat      = 15 * time.Second
	DefaultTicketTTL      = 30 * time.Second
	DefaultStreamDeadline = 30 * time.Second
	// maxTickets bounds the outstanding (not yet redeemed, not expired)
	// tickets.
	maxTickets = 1024
	// maxBatch bounds the events written between two flushes.
	maxBatch = 256
)

// Sentinel errors of the event stream.
var (
	// ErrBadTicket: a ticket that was never issued, is used up or expired
	// (answered 401).
	ErrBadTicket = errors.New("events: unknown, used or expired ticket")
	// ErrTooManyTickets: maxTickets tickets are outstanding (answered 429).
	ErrTooManyTickets = errors.New("events: too many outstanding tickets")
	// ErrBadEventData: Publish was given a value that does not encode to
	// JSON.
	ErrBadEventData = errors.New("events: data does not encode to JSON")
)

// Event is one event of the stream.
type Event struct {
	ID   uint64
	Kind EventKind
	Data json.RawMessage
}

// EventsOptions configure an Events hub.
type EventsOptions struct {
	// Ring is how many events are kept for resuming (DefaultEventRing).
	Ring int
	// Heartbeat is the interval of the comment lines that keep proxies and
	// the browser from timing the stream out (DefaultHeartbeat).
	Heartbeat time.Duration
	// TicketTTL is how long a ticket may wait before it opens a stream
	// (DefaultTicketTTL).
	TicketTTL time.Duration
	// StreamDeadline bounds one write to a client (DefaultStreamDeadline):
	// a client that reads nothing for that long is dropped.
	StreamDeadline time.Duration
	// FirstID: the first event gets FirstID+1 (0: the hub's start time in
	// microseconds, so that a restarted process never reuses an id an
	// earlier one gave and a client of the earlier one is told to reload).
	FirstID uint64
	// Now is the clock of the tickets (time.Now).
	Now        func() time.Time
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Events is the hub of GET /api/v1/events: what is published goes into a
// bounded ring (ids consecutive), every open stream follows the ring with
// its own cursor, so a slow client never holds the publisher up; a client
// whose cursor fell out of the ring gets a reload event and is closed. It
// is safe for concurrent use.
type Events struct {
	o   EventsOptions
	log *slog.Logger

	mu    sync.Mutex
	ring  []Event
	first uint64 // id of ring's oldest event (last+1 when empty)
	last  uint64 // id of the newest event (FirstID when none)
	head  int    // index of the oldest event in ring
	n     int    // events in ring
	wake  chan struct{}

	tmu     sync.Mutex
	tickets map[string]ticket

	closed    chan struct{}
	closeOnce sync.Once

	streams   prometheus.Gauge
	open      atomic.Int64 // streams open (Watched)
	published *prometheus.CounterVec
	reloads   prometheus.Counter
}

type ticket struct {
	p       auth.Principal
	expires time.Time
}

// NewEvents builds a hub. Its streams end when Run's context ends.
func NewEvents(o EventsOptions) (*Events, error) {
	if o.Ring <= 0 {
		o.Ring = DefaultEventRing
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.TicketTTL <= 0 {
		o.TicketTTL = DefaultTicketTTL
	}
	if o.StreamDeadline <= 0 {
		o.StreamDeadline = DefaultStreamDeadline
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FirstID == 0 {
		o.FirstID = uint64(o.Now().UnixMicro())
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	e := &Events{o: o, log: o.Logger.With("component", "events"), ring: make([]Event, o.Ring),
		first: o.FirstID + 1, last: o.FirstID, wake: make(chan struct{}), tickets: map[string]ticket{},
		closed: make(chan struct{}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "resilience_events_streams",
			Help: "Open GET /api/v1/events streams."}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "resilience_events_published_total",
			Help: "Events put into the stream's ring, by kind."}, []string{"kind"}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{Name: "resilience_events_reloads_total",
			Help: "Streams told to reload: their Last-Event-ID was out of the ring (or they fell behind it)."}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{e.streams, e.published, e.reloads} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("events: register metrics: %w", err)
			}
		}
	}
	return e, nil
}

// Run waits for ctx, then ends every open stream (an SSE stream is never
// idle, so the HTTP server's graceful shutdown would wait for it).
func (e *Events) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-e.closed:
	}
	e.closeOnce.Do(func() { close(e.closed) })
	return nil
}

// Publish appends an event of kind with v encoded as JSON and returns its
// id. Errors: ErrBadEventData.
func (e *Events) Publish(kind EventKind, v any) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrBadEventData, kind, err)
	}
	e.mu.Lock()
	e.last++
	id := e.last
	i := (e.head + e.n) % len(e.ring)
	if e.n == len(e.ring) {
		e.head = (e.head + 1) % len(e.ring)
		e.first++
	} else {
		e.n++
	}
	e.ring[i] = Event{ID: id, Kind: kind, Data: data}
	wake := e.wake
	e.wake = make(chan struct{})
	e.mu.Unlock()
	close(wake)
	e.published.WithLabelValues(string(kind)).Inc()
	return id, nil
}

// Watched reports whether a stream is open.
func (e *Events) Watched() bool { return e.open.Load() > 0 }

// Forget drops the events kept for resuming and moves the ids on by one
// without an event: a stream that resumes from an id before it is told to
// reload (the events after that id are gone), one that connects after it
// follows from the new id. RunEventFeed calls it when it stops looking
// because nobody has watched for a while: what changes meanwhile is in no
// event, so no stream may resume across it.
func (e *Events) Forget() {
	e.mu.Lock()
	e.last++
	e.first, e.head, e.n = e.last+1, 0, 0
	clear(e.ring)
	wake := e.wake
	e.wake = make(chan struct{})
	e.mu.Unlock()
	close(wake)
}

// LastID is the id of the newest event (FirstID when there is none).
func (e *Events) LastID() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// after returns up to max events with ids after cursor and the channel
// closed by the next Publish; ok is false when cursor is not resumable
// (events after it were dropped from the ring, or it is newer than any).
func (e *Events) after(cursor uint64, max int) (evs []Event, wake <-chan struct{}, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cursor+1 < e.first || cursor > e.last {
		return nil, nil, false
	}
	k := int(e.last - cursor)
	if k > max {
		k = max
	}
	off := int(cursor + 1 - e.first)
	evs = make([]Event, k)
	for j := range evs {
		evs[j] = e.ring[(e.head+off+j)%len(e.ring)]
	}
	return evs, e.wake, true
}

// Ticket is POST /api/v1/events/ticket behind authn (PermRead): a random
// single-use ticket, valid TicketTTL to open one stream with ?ticket= (an
// EventSource cannot send an Authorization header, and the long-lived
// token must not be put in a URL, where proxies and logs keep it). A nil
// authn serves without authentication.
func (e *Events) Ticket(authn *auth.Authenticator) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		t, exp, err := e.issue(p)
		switch {
		case errors.Is(err, ErrTooManyTickets):
			w.Header().Set("Retry-After", strconv.Itoa(int(e.o.TicketTTL.Seconds())))
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		default:
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusOK, map[string]any{"ticket": t, "expires_at": exp.UTC().Format(time.RFC3339)})
		}
	})
	if authn == nil {
		return h
	}
	return authn.Require(auth.PermRead, h)
}

// issue creates a ticket for p. Errors: ErrTooManyTickets, or the random
// source's.
func (e *Events) issue(p auth.Principal) (string, time.Time, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("events: ticket: %w", err)
	}
	now := e.o.Now()
	e.tmu.Lock()
	defer e.tmu.Unlock()
	for k, t := range e.tickets {
		if !now.Before(t.expires) {
			delete(e.tickets, k)
		}
	}
	if len(e.tickets) >= maxTickets {
		return "", time.Time{}, ErrTooManyTickets
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	exp := now.Add(e.o.TicketTTL)
	e.tickets[tok] = ticket{p: p, expires: exp}
	return tok, exp, nil
}

// redeem uses a ticket up. Errors: ErrBadTicket.
func (e *Events) redeem(tok string) (auth.Principal, error) {
	e.tmu.Lock()
	defer e.tmu.Unlock()
	t, ok := e.tickets[tok]
	delete(e.tickets, tok)
	if !ok || !e.o.Now().Before(t.expires) {
		return auth.Principal{}, ErrBadTicket
	}
	return t.p, nil
}

// Stream is GET /api/v1/events: with ?ticket= it redeems the ticket,
// otherwise it needs a bearer token with PermRead (authn; nil: open).
func (e *Events) Stream(authn *auth.Authenticator) http.Handler {
	stream := http.HandlerFunc(e.serveStream)
	var bearer http.Handler = stream
	if authn != nil {
		bearer = authn.Require(auth.PermRead, stream)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.Query().Has("ticket") {
			bearer.ServeHTTP(w, r)
			return
		}
		if authn == nil {
			stream.ServeHTTP(w, r)
			return
		}
		if _, err := e.redeem(r.URL.Query().Get("ticket")); err != nil {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": err.Error()})
			return
		}
		stream.ServeHTTP(w, r)
	})
}

// resumeFrom reads the client's position: Last-Event-ID (what a browser
// sends on its own reconnect), else ?last_event_id= (what a client that
// opens a new EventSource passes); "" is "from now".
func (e *Events) resumeFrom(r *http.Request) (cursor uint64, given bool, err error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	if v == "" {
		return e.LastID(), false, nil
	}
	c, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("last event id %q: a decimal event id expected", v)
	}
	return c, true, nil
}

// serveStream writes the events after the client's position, then every
// new one as it is published, with a heartbeat comment when idle, until
// the client goes, the hub closes or the client falls out of the ring.
func (e *Events) serveStream(w http.ResponseWriter, r *http.Request) {
	cursor, _, err := e.resumeFrom(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	rc := http.NewResponseController(w)
	// The server's ReadTimeout would cancel the request's context and its
	// WriteTimeout end the response: a stream lives longer. Each write
	// gets its own deadline instead.
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		e.log.Debug("events: clear read deadline", "err", err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	e.streams.Inc()
	e.open.Add(1)
	defer func() { e.streams.Dec(); e.open.Add(-1) }()
	write := func(s string) bool {
		rc.SetWriteDeadline(time.Now().Add(e.o.StreamDeadline))
		if _, err := w.Write([]byte(s)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(fmt.Sprintf("retry: 2000\n: stream from %d\n\n", cursor)) {
		return
	}
	hb := time.NewTicker(e.o.Heartbeat)
	defer hb.Stop()
	for {
		evs, wake, ok := e.after(cursor, maxBatch)
		if !ok {
			e.reloads.Inc()
			write(formatEvent(Event{ID: e.LastID(), Kind: EventReload,
				Data: json.RawMessage(fmt.Sprintf(`{"after":%d,"reason":"the events after this id are no longer kept"}`, cursor))}))
			return
		}
		if len(evs) > 0 {
			var b []byte
			for _, ev := range evs {
				b = append(b, formatEvent(ev)...)
			}
			if !write(string(b)) {
				return
			}
			cursor = evs[len(evs)-1].ID
			continue
		}
		select {
		case <-wake:
		case <-hb.C:
			if !write(": heartbeat\n\n") {
				return
			}
		case <-r.Context().Done():
			return
		case <-e.closed:
			return
		}
	}
}

// formatEvent is one event in the text/event-stream format (the data is
// JSON: one line).
func formatEvent(ev Event) string {
	return "id: " + strconv.FormatUint(ev.ID, 10) + "\nevent: " + string(ev.Kind) + "\ndata: " + string(ev.Data) + "\n\n"
}

package embedded

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// errPublisherThrottled is the stop cause of a publisher the broker
// disconnected because a subscriber its messages go to stayed at
// max_inflight unacknowledged messages for the whole publish_wait. Its last
// message was not acknowledged (nor delivered): the device keeps it and
// sends it again after reconnecting.
var errPublisherThrottled = errors.New("embedded mqtt: publisher disconnected: a subscriber of its topic stayed at max_inflight for publish_wait")

// recheck is how often a waiting publish re-checks its subscribers even
// without an acknowledgement (a subscriber that went away, the publisher's
// own connection closing).
const recheck = 20 * time.Millisecond

// flowHook keeps one fast publisher from making the broker drop other
// clients' messages. mochi acknowledges a QoS 1 publish at once and hands
// the message to each subscriber without waiting; once a subscriber holds
// its in-flight maximum, or its write queue is full, mochi drops further
// messages to it ("client store quota reached"), from every publisher alike.
// This hook runs on the publisher's read goroutine before mochi handles the
// publish: while a subscriber the message would go to holds limit
// unacknowledged messages, the publish waits for that subscriber's
// acknowledgements, so the publisher's socket is not read (TCP pushes back,
// its PUBACKs come later) and every publisher gets its turn in order. mochi's
// own hard limit stays at 65535, so limit leaves 65535-limit messages of
// headroom for publishes that pass the check at the same moment.
//
// A wait is bounded by publish_wait and by the publisher's keepalive (its
// pings are not answered meanwhile); after that the publisher is
// disconnected with errPublisherThrottled and its message refused, not
// dropped: without a PUBACK the device sends it again.
//
// It also picks the member of a shared subscription group ($share/…) that
// gets a message: a connected member with the fewest unacknowledged
// messages (mochi picks an arbitrary member, possibly an offline one whose
// session only fills up), and counts clients disconnected for a packet over
// max_packet_size.
type flowHook struct {
	mqtt.HookBase
	srv     *mqtt.Server // set before Serve
	limit   int
	maxWait time.Duration

	tooLarge  atomic.Int64
	throttled atomic.Int64
	refused   atomic.Int64

	waiters  atomic.Int32
	mu       sync.Mutex
	progress chan struct{} // closed when a subscriber acknowledges while publishes wait
}

func newFlowHook(limit int, maxWait time.Duration) *flowHook {
	return &flowHook{limit: limit, maxWait: maxWait, progress: make(chan struct{})}
}

// ID names the hook.
func (h *flowHook) ID() string { return "resilience-flow" }

// Provides lists the events the hook handles.
func (h *flowHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnPublish, mqtt.OnSelectSubscribers, mqtt.OnQosComplete,
		mqtt.OnQosDropped, mqtt.OnDisconnect}, []byte{b})
}

// OnPublish waits while a subscriber of the topic is at the limit.
func (h *flowHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || h.srv == nil {
		return pk, nil
	}
	if !h.congested(cl.ID, pk.TopicName) {
		return pk, nil
	}
	h.throttled.Add(1)
	h.waiters.Add(1)
	defer h.waiters.Add(-1)
	wait := h.maxWait
	if ka := time.Duration(cl.State.Keepalive) * time.Second; ka > 0 && ka < wait {
		wait = ka // mochi's read/write deadline is 1.5 keepalives after the read
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(recheck)
	defer tick.Stop()
	for {
		progress := h.progressCh()
		if !h.congested(cl.ID, pk.TopicName) {
			return pk, nil
		}
		if cl.Closed() {
			return pk, packets.ErrRejectPacket // not acknowledged: the device re-sends it
		}
		select {
		case <-progress:
		case <-tick.C:
		case <-deadline.C:
			h.refused.Add(1)
			h.Log.Warn("embedded mqtt: publisher disconnected, a subscriber of its topic is at max_inflight",
				"client", cl.ID, "topic", pk.TopicName, "waited", wait)
			if cl.Properties.ProtocolVersion == 5 {
				_ = cl.WritePacket(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect},
					ReasonCode: packets.ErrServerBusy.Code})
			}
			cl.Stop(errPublisherThrottled)
			return pk, packets.ErrRejectPacket
		}
	}
}

func (h *flowHook) progressCh() chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.progress
}

// wakeWaiters tells waiting publishes that a subscriber acknowledged.
func (h *flowHook) wakeWaiters() {
	if h.waiters.Load() == 0 {
		return
	}
	h.mu.Lock()
	close(h.progress)
	h.progress = make(chan struct{})
	h.mu.Unlock()
}

// OnQosComplete wakes waiting publishes.
func (h *flowHook) OnQosComplete(*mqtt.Client, packets.Packet) { h.wakeWaiters() }

// OnQosDropped wakes waiting publishes.
func (h *flowHook) OnQosDropped(*mqtt.Client, packets.Packet) { h.wakeWaiters() }

// OnDisconnect counts clients disconnected for an oversize packet.
func (h *flowHook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	if errors.Is(err, packets.ErrPacketTooLarge) {
		h.tooLarge.Add(1)
		h.Log.Warn("embedded mqtt: client disconnected, packet over max_packet_size",
			"client", cl.ID, "remote", cl.Net.Remote)
	}
}

// congested reports whether a subscriber that a message on topic would go
// to (other than the publisher itself) holds limit unacknowledged messages.
// A direct subscriber counts only while connected: a stale persistent
// session (a tool that went away) must not stall every device; mochi keeps
// up to 65535 messages for it, then drops its copies (Dropped counts them).
// A shared group counts through the member pick chooses, which is offline
// only when every member is: the collectors' group while they are all down
// holds max_inflight messages, then devices keep theirs.
func (h *flowHook) congested(publisher, topic string) bool {
	subs := h.srv.Topics.Subscribers(topic)
	for id := range subs.Subscriptions {
		if id == publisher {
			continue
		}
		if cl, ok := h.srv.Clients.Get(id); ok && !cl.Closed() && cl.State.Inflight.Len() >= h.limit {
			return true
		}
	}
	for _, group := range subs.Shared {
		if id, ok := h.pick(group); ok && id != publisher && h.inflight(id) >= h.limit {
			return true
		}
	}
	return false
}

func (h *flowHook) inflight(id string) int {
	cl, ok := h.srv.Clients.Get(id)
	if !ok {
		return 0
	}
	return cl.State.Inflight.Len()
}

// pick chooses the member of a shared group that gets the next message: a
// connected member with the fewest unacknowledged messages; without a
// connected member, the offline session with the fewest.
func (h *flowHook) pick(group map[string]packets.Subscription) (string, bool) {
	best, bestOpen, bestN, found := "", false, 0, false
	for id := range group {
		cl, ok := h.srv.Clients.Get(id)
		if !ok {
			continue
		}
		open, n := !cl.Closed(), cl.State.Inflight.Len()
		if !found || (open && !bestOpen) || (open == bestOpen && (n < bestN || n == bestN && id < best)) {
			best, bestOpen, bestN, found = id, open, n, true
		}
	}
	return best, found
}

// OnSelectSubscribers gives each shared group's message to the member pick
// chooses.
func (h *flowHook) OnSelectSubscribers(subs *mqtt.Subscribers, _ packets.Packet) *mqtt.Subscribers {
	if h.srv == nil || len(subs.Shared) == 0 {
		return subs
	}
	subs.SharedSelected = map[string]packets.Subscription{}
	for _, group := range subs.Shared {
		id, ok := h.pick(group)
		if !ok {
			continue
		}
		sub := group[id]
		if prev, ok := subs.SharedSelected[id]; ok {
			sub = prev.Merge(sub)
		}
		subs.SharedSelected[id] = sub
	}
	return subs
}

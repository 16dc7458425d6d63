package embedded

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"
	"go.etcd.io/bbolt"
)

// storeBucket is the bolt bucket of the session store. The bucket, the keys
// and the record encoding are those of mochi's own bolt hook, so a data
// directory written by earlier versions (which used that hook) loads as is.
const storeBucket = "mochi"

// errStoreClosed is returned by storeHook.Flush after (or during) Stop:
// the session store no longer accepts changes.
var errStoreClosed = errors.New("embedded mqtt: session store closed")

// storeOptions configures the write-behind session store.
type storeOptions struct {
	Path string
	// FlushInterval is the longest a change waits before it is written:
	// the flusher collects every change of this window into one bolt
	// transaction.
	FlushInterval time.Duration
	// MaxPending bounds the distinct keys waiting for the next flush; a
	// client whose change would exceed it waits for that flush (its socket
	// reads pause), so memory stays bounded.
	MaxPending int
}

// storeHook is mochi's session storage (sessions, subscriptions, retained
// and in-flight messages) on bbolt, written behind: the hook methods, which
// mochi calls synchronously on a client's read goroutine, only put the
// record in a pending map keyed like the store; a flusher encodes and
// writes the map in one transaction every FlushInterval. mochi's bolt hook instead
// ran one Update transaction per change, four per QoS 1 message (the
// publisher-side ack stored and removed, the subscriber's in-flight copy
// stored, then removed on its PUBACK), serialised on bolt's writer lock;
// under load PUBACKs and PINGRESPs queued behind them and publishers lost
// their connections. Changes to one key coalesce: a message stored and
// acknowledged within one window costs a single no-op delete, and is never
// encoded (the JSON encoding of every in-flight message was 5% of `run`'s
// CPU at 8,000 msg/s).
//
// Crash semantics (the file is opened with NoSync, as before): a flushed
// change survives a process crash (it is in the OS page cache), not a power
// cut. A process crash loses the changes of at most the last FlushInterval
// plus the flush in progress. Concretely: (1) a QoS 1 message the broker
// accepted in that window (the device already has its PUBACK and will not
// re-send it) and that the collector had not yet written to Kafka is lost;
// before the write-behind the same loss needed a crash in the microseconds
// between mochi's PUBACK to the device and its store of the subscriber's
// copy, which mochi always does in that order. (2) An acknowledgement from
// the collector in the window is forgotten: the message is delivered again
// after the restart (a duplicate, which the processor drops by station,
// boot and seq). (3) A session or subscription made in the window is
// missing after the restart: the collector subscribes on every connect.
// A clean stop (Run's context cancelled) flushes everything.
type storeHook struct {
	mqtt.HookBase
	opts storeOptions
	db   *bbolt.DB

	mu      sync.Mutex
	pending map[string]storage.Serializable // nil value: delete; encoded at flush
	closed  bool
	writing bool          // a batch is taken from pending but not yet committed
	flushed *sync.Cond    // broadcast after each flush (with mu)
	kick    chan struct{} // the first change of a window
	urgent  chan struct{} // someone waits for the next write
	stop    chan struct{}
	done    chan struct{}
	err     error // last flush error, for Flush
}

func newStoreHook(opts storeOptions) *storeHook {
	h := &storeHook{opts: opts, pending: map[string]storage.Serializable{},
		kick: make(chan struct{}, 1), urgent: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	h.flushed = sync.NewCond(&h.mu)
	return h
}

// ID names the hook.
func (h *storeHook) ID() string { return "resilience-store" }

// Provides lists the events the store handles (those of mochi's bolt hook).
func (h *storeHook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnSubscribed, mqtt.OnUnsubscribed,
		mqtt.OnRetainMessage, mqtt.OnWillSent, mqtt.OnQosPublish, mqtt.OnQosComplete,
		mqtt.OnQosDropped, mqtt.OnSysInfoTick, mqtt.OnClientExpired, mqtt.OnRetainedExpired,
		mqtt.StoredClients, mqtt.StoredInflightMessages, mqtt.StoredRetainedMessages,
		mqtt.StoredSubscriptions, mqtt.StoredSysInfo,
	}, []byte{b})
}

// Init opens the store and starts the flusher; mochi calls it from AddHook.
func (h *storeHook) Init(any) error {
	db, err := bbolt.Open(h.opts.Path, 0o600, &bbolt.Options{Timeout: time.Second, NoSync: true,
		NoFreelistSync: true, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("open %s: %w", h.opts.Path, err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte(storeBucket))
		return err
	}); err != nil {
		_ = db.Close()
		return fmt.Errorf("open %s: %w", h.opts.Path, err)
	}
	h.db = db
	go h.flushLoop()
	return nil
}

// Stop writes what is pending, stops the flusher and closes the file;
// mochi calls it from Server.Close after every client has stopped.
func (h *storeHook) Stop() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	close(h.stop)
	<-h.done
	h.mu.Lock()
	err := h.err
	h.flushed.Broadcast()
	h.mu.Unlock()
	return errors.Join(err, h.db.Close())
}

// Flush waits until every change made before the call is written; after
// Stop it returns errStoreClosed.
func (h *storeHook) Flush() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errStoreClosed
	}
	for (len(h.pending) > 0 || h.writing) && !h.closed {
		if len(h.pending) > 0 {
			wake(h.urgent)
		}
		h.flushed.Wait()
	}
	if len(h.pending) > 0 || h.writing {
		return errStoreClosed
	}
	return h.err
}

// wake sends on a flusher channel without blocking.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// put queues a change; v nil deletes key.
func (h *storeHook) put(key string, v storage.Serializable) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		h.Log.Warn("embedded mqtt: session store change after stop ignored", "key", key)
		return
	}
	if _, ok := h.pending[key]; !ok {
		for len(h.pending) >= h.opts.MaxPending && !h.closed {
			wake(h.urgent)
			h.flushed.Wait()
		}
		if h.closed {
			return
		}
	}
	first := len(h.pending) == 0
	h.pending[key] = v
	if first {
		wake(h.kick)
	}
}

// set stores the record v, encoded now: sessions, subscriptions and
// counters are built from mochi's live structures, which change after the
// hook returns.
func (h *storeHook) set(key string, v storage.Serializable) {
	b, err := v.MarshalBinary()
	if err != nil {
		h.Log.Error("embedded mqtt: encode session record", "key", key, "error", err)
		return
	}
	h.put(key, encoded(b))
}

// setMessage stores message m, encoded at flush (not at all if it is
// acknowledged before): m is a copy (message), and the packet's payload,
// which it shares, is not changed once published.
func (h *storeHook) setMessage(m *storage.Message) { h.put(m.ID, m) }

// encoded is a record encoded already.
type encoded []byte

func (e encoded) MarshalBinary() ([]byte, error) { return e, nil }
func (e encoded) UnmarshalBinary([]byte) error {
	return errors.New("embedded mqtt: an encoded record is only written")
}

func (h *storeHook) del(key string) { h.put(key, nil) }

// flushLoop writes the pending changes: after the first change of a window
// it waits FlushInterval, or less when someone waits for the write (Flush,
// or a change that found MaxPending keys pending), then writes.
func (h *storeHook) flushLoop() {
	defer close(h.done)
	for {
		now := false
		select {
		case <-h.stop:
			h.flush()
			return
		case <-h.kick:
		case <-h.urgent:
			now = true
		}
		if !now {
			timer := time.NewTimer(h.opts.FlushInterval)
			select {
			case <-h.stop:
				timer.Stop()
				h.flush()
				return
			case <-timer.C:
			case <-h.urgent:
				timer.Stop()
			}
		}
		h.flush()
	}
}

// flush writes the pending map in one transaction.
func (h *storeHook) flush() {
	h.mu.Lock()
	batch := h.pending
	if len(batch) == 0 {
		h.flushed.Broadcast()
		h.mu.Unlock()
		return
	}
	h.pending = make(map[string]storage.Serializable, len(batch))
	h.writing = true
	h.mu.Unlock()

	err := h.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(storeBucket))
		for k, v := range batch {
			var err error
			if v == nil {
				err = b.Delete([]byte(k))
			} else if enc, merr := v.MarshalBinary(); merr != nil {
				h.Log.Error("embedded mqtt: encode session record", "key", k, "error", merr)
			} else {
				err = b.Put([]byte(k), enc)
			}
			if err != nil {
				return fmt.Errorf("key %s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("embedded mqtt: write %d session changes to %s: %w", len(batch), h.opts.Path, err)
		h.Log.Error("session store write failed", "error", err)
	}
	h.mu.Lock()
	h.err, h.writing = err, false
	h.flushed.Broadcast()
	h.mu.Unlock()
}

// Keys, as mochi's bolt hook makes them.
func clientKey(cl *mqtt.Client) string { return storage.ClientKey + "_" + cl.ID }
func subscriptionKey(cl *mqtt.Client, filter string) string {
	return storage.SubscriptionKey + "_" + cl.ID + ":" + filter
}
func retainedKey(topic string) string { return storage.RetainedKey + "_" + topic }
func inflightKey(cl *mqtt.Client, pk packets.Packet) string {
	return storage.InflightKey + "_" + cl.ID + ":" + pk.FormatID()
}

// OnSessionEstablished stores the client's session.
func (h *storeHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) { h.updateClient(cl) }

// OnWillSent stores the session without its will.
func (h *storeHook) OnWillSent(cl *mqtt.Client, _ packets.Packet) { h.updateClient(cl) }

func (h *storeHook) updateClient(cl *mqtt.Client) {
	props := cl.Properties.Props.Copy(false)
	h.set(clientKey(cl), &storage.Client{
		ID: cl.ID, T: storage.ClientKey, Remote: cl.Net.Remote, Listener: cl.Net.Listener,
		Username: cl.Properties.Username, Clean: cl.Properties.Clean, ProtocolVersion: cl.Properties.ProtocolVersion,
		Properties: storage.ClientProperties{
			SessionExpiryInterval: props.SessionExpiryInterval, AuthenticationMethod: props.AuthenticationMethod,
			AuthenticationData: props.AuthenticationData, RequestProblemInfo: props.RequestProblemInfo,
			RequestResponseInfo: props.RequestResponseInfo, ReceiveMaximum: props.ReceiveMaximum,
			TopicAliasMaximum: props.TopicAliasMaximum, User: props.User, MaximumPacketSize: props.MaximumPacketSize,
		},
		Will: storage.ClientWill(cl.Properties.Will),
	})
}

// OnDisconnect removes an expiring (clean) session.
func (h *storeHook) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	if !expire || cl.StopCause() == packets.ErrSessionTakenOver {
		return
	}
	h.del(clientKey(cl))
}

// OnSubscribed stores the client's subscriptions.
func (h *storeHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	for i, f := range pk.Filters {
		h.set(subscriptionKey(cl, f.Filter), &storage.Subscription{
			ID: subscriptionKey(cl, f.Filter), T: storage.SubscriptionKey, Client: cl.ID, Qos: reasonCodes[i],
			Filter: f.Filter, Identifier: f.Identifier, NoLocal: f.NoLocal, RetainHandling: f.RetainHandling,
			RetainAsPublished: f.RetainAsPublished,
		})
	}
}

// OnUnsubscribed removes the client's subscriptions.
func (h *storeHook) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	for _, f := range pk.Filters {
		h.del(subscriptionKey(cl, f.Filter))
	}
}

// OnRetainMessage stores (r != -1) or removes a retained message.
func (h *storeHook) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	if r == -1 {
		h.del(retainedKey(pk.TopicName))
		return
	}
	m := message(pk, retainedKey(pk.TopicName), storage.RetainedKey)
	m.Client = cl.ID
	h.setMessage(m)
}

// OnQosPublish stores an in-flight message.
func (h *storeHook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, _ int) {
	m := message(pk, inflightKey(cl, pk), storage.InflightKey)
	// mochi's bolt hook left PacketID out, so after a restart every
	// in-flight message of a client came back as packet 0 and all but one
	// were lost; StoredInflightMessages recovers it from the key for
	// files it wrote.
	m.Client, m.Sent, m.PacketID = cl.ID, sent, pk.PacketID
	h.setMessage(m)
}

// OnQosComplete removes an acknowledged in-flight message.
func (h *storeHook) OnQosComplete(cl *mqtt.Client, pk packets.Packet) { h.del(inflightKey(cl, pk)) }

// OnQosDropped removes a dropped in-flight message.
func (h *storeHook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) { h.del(inflightKey(cl, pk)) }

// OnSysInfoTick stores the server's counters.
func (h *storeHook) OnSysInfoTick(sys *system.Info) {
	h.set(storage.SysInfoKey, &storage.SystemInfo{ID: storage.SysInfoKey, T: storage.SysInfoKey, Info: *sys})
}

// OnRetainedExpired removes an expired retained message.
func (h *storeHook) OnRetainedExpired(topic string) { h.del(retainedKey(topic)) }

// OnClientExpired removes an expired session.
func (h *storeHook) OnClientExpired(cl *mqtt.Client) { h.del(clientKey(cl)) }

func message(pk packets.Packet, id, typ string) *storage.Message {
	props := pk.Properties.Copy(false)
	return &storage.Message{
		ID: id, T: typ, Origin: pk.Origin, FixedHeader: pk.FixedHeader, TopicName: pk.TopicName,
		Payload: pk.Payload, Created: pk.Created,
		Properties: storage.MessageProperties{
			PayloadFormat: props.PayloadFormat, MessageExpiryInterval: props.MessageExpiryInterval,
			ContentType: props.ContentType, ResponseTopic: props.ResponseTopic, CorrelationData: props.CorrelationData,
			SubscriptionIdentifier: props.SubscriptionIdentifier, TopicAlias: props.TopicAlias, User: props.User,
		},
	}
}

// StoredClients loads the sessions (at start, before any client connects).
func (h *storeHook) StoredClients() ([]storage.Client, error) {
	var v []storage.Client
	err := h.iter(storage.ClientKey, func(b []byte) error {
		var o storage.Client
		if err := o.UnmarshalBinary(b); err != nil {
			return err
		}
		v = append(v, o)
		return nil
	})
	return v, err
}

// StoredSubscriptions loads the subscriptions.
func (h *storeHook) StoredSubscriptions() ([]storage.Subscription, error) {
	var v []storage.Subscription
	err := h.iter(storage.SubscriptionKey, func(b []byte) error {
		var o storage.Subscription
		if err := o.UnmarshalBinary(b); err != nil {
			return err
		}
		v = append(v, o)
		return nil
	})
	return v, err
}

// StoredRetainedMessages loads the retained messages.
func (h *storeHook) StoredRetainedMessages() ([]storage.Message, error) {
	return h.messages(storage.RetainedKey)
}

// StoredInflightMessages loads the in-flight messages.
func (h *storeHook) StoredInflightMessages() ([]storage.Message, error) {
	v, err := h.messages(storage.InflightKey)
	for i := range v {
		if v[i].PacketID != 0 {
			continue
		}
		// Written by mochi's bolt hook: the id is the key's last field
		// (IFM_{client}:{packet id}).
		j := strings.LastIndexByte(v[i].ID, ':')
		id, perr := strconv.ParseUint(v[i].ID[j+1:], 10, 16)
		if j < 0 || perr != nil {
			err = errors.Join(err, fmt.Errorf("embedded mqtt: in-flight record %q in %s: no packet id", v[i].ID, h.opts.Path))
			continue
		}
		v[i].PacketID = uint16(id)
	}
	return v, err
}

func (h *storeHook) messages(prefix string) ([]storage.Message, error) {
	var v []storage.Message
	err := h.iter(prefix, func(b []byte) error {
		var o storage.Message
		if err := o.UnmarshalBinary(b); err != nil {
			return err
		}
		v = append(v, o)
		return nil
	})
	return v, err
}

// StoredSysInfo loads the server's counters.
func (h *storeHook) StoredSysInfo() (storage.SystemInfo, error) {
	var v storage.SystemInfo
	err := h.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(storeBucket)).Get([]byte(storage.SysInfoKey))
		if b == nil {
			return nil
		}
		return v.UnmarshalBinary(b)
	})
	if err != nil {
		return v, fmt.Errorf("embedded mqtt: load %s from %s: %w", storage.SysInfoKey, h.opts.Path, err)
	}
	return v, nil
}

// iter visits the stored values under a key prefix.
func (h *storeHook) iter(prefix string, visit func([]byte) error) error {
	err := h.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket([]byte(storeBucket)).Cursor()
		p := []byte(prefix + "_")
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if err := visit(v); err != nil {
				return fmt.Errorf("key %s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("embedded mqtt: load %s records from %s: %w", prefix, h.opts.Path, err)
	}
	return nil
}

package testenv_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/testenv"
)

const waitFor = 15 * time.Second

func mqttConnect(t *testing.T, url, user, password string) (mqtt.Client, error) {
	t.Helper()
	opts := mqtt.NewClientOptions().
		AddBroker(url).
		SetClientID(testenv.UniqueName(t, "c")).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).
		SetOrderMatters(true)
	if user != "" {
		opts.SetUsername(user).SetPassword(password)
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(waitFor) {
		c.Disconnect(0)
		return nil, fmt.Errorf("connect to %s as %q: timed out", url, user)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect to %s as %q: %w", url, user, err)
	}
	return c, nil
}

func mustMQTT(t *testing.T, url, user, password string) mqtt.Client {
	t.Helper()
	c, err := mqttConnect(t, url, user, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(250) })
	return c
}

func subscribe(t *testing.T, c mqtt.Client, filter string) <-chan mqtt.Message {
	t.Helper()
	ch := make(chan mqtt.Message, 1024)
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { ch <- m })
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

func publish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("publish QoS 1 to %s: %v", topic, tok.Error())
	}
}

// TestMosquittoRoundTripQoS1 publishes at QoS 1 on the anonymous listener
// and receives every message, in order, on a QoS 1 subscription.
func TestMosquittoRoundTripQoS1(t *testing.T) {
	env := testenv.RequireMQTT(t)
	topic := "testenv/" + testenv.UniqueName(t, "roundtrip")
	sub := mustMQTT(t, env.MQTTURL, "", "")
	msgs := subscribe(t, sub, topic)
	pub := mustMQTT(t, env.MQTTURL, "", "")

	const n = 50
	for i := range n {
		publish(t, pub, topic, strconv.Itoa(i))
	}
	timeout := time.After(waitFor)
	for i := range n {
		select {
		case m := <-msgs:
			if m.Topic() != topic || string(m.Payload()) != strconv.Itoa(i) || m.Qos() != 1 {
				t.Fatalf("message %d: got topic %q payload %q qos %d", i, m.Topic(), m.Payload(), m.Qos())
			}
		case <-timeout:
			t.Fatalf("received %d of %d messages", i, n)
		}
	}
}

// TestMosquittoPersistentSessionBurst checks the queue limits: a burst of
// 10k QoS 1 messages to a persistent session that is offline is kept whole
// and delivered, in order, when the client comes back.
func TestMosquittoPersistentSessionBurst(t *testing.T) {
	env := testenv.RequireMQTT(t)
	topic := "testenv/" + testenv.UniqueName(t, "burst")
	clientID := testenv.UniqueName(t, "persistent")
	const n = 10000

	received := make(chan string, n+100)
	opts := func() *mqtt.ClientOptions {
		return mqtt.NewClientOptions().AddBroker(env.MQTTURL).SetClientID(clientID).
			SetCleanSession(false).SetAutoReconnect(false).SetOrderMatters(true).
			SetConnectTimeout(5 * time.Second).
			SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { received <- string(m.Payload()) })
	}
	// First connection: create the session and its subscription, then leave.
	c := mqtt.NewClient(opts())
	if tok := c.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", clientID, tok.Error())
	}
	if tok := c.Subscribe(topic, 1, nil); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	c.Disconnect(250)

	pub := mustMQTT(t, env.MQTTURL, "", "")
	toks := make([]mqtt.Token, n)
	for i := range n {
		toks[i] = pub.Publish(topic, 1, false, strconv.Itoa(i))
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}

	// Second connection with the same id resumes the session.
	c = mqtt.NewClient(opts())
	if tok := c.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("reconnect %s: %v", clientID, tok.Error())
	}
	defer func() {
		c.Unsubscribe(topic).WaitTimeout(waitFor)
		c.Disconnect(250)
	}()
	timeout := time.After(time.Minute)
	for i := range n {
		select {
		case p := <-received:
			if p != strconv.Itoa(i) {
				t.Fatalf("message %d: got %q", i, p)
			}
		case <-timeout:
			t.Fatalf("received %d of %d queued messages", i, n)
		}
	}
}

// TestMosquittoSecureListener checks the authenticated listener: no
// anonymous or wrong-password clients, and the per-station ACL.
func TestMosquittoSecureListener(t *testing.T) {
	env := testenv.RequireMQTT(t)

	t.Run("anonymous refused", func(t *testing.T) {
		c, err := mqttConnect(t, env.MQTTSecureURL, "", "")
		if err == nil {
			c.Disconnect(0)
			t.Fatal("anonymous client connected to the secure listener")
		}
	})
	t.Run("wrong password refused", func(t *testing.T) {
		c, err := mqttConnect(t, env.MQTTSecureURL, "VG-AINGHIA", "not-the-password")
		if err == nil {
			c.Disconnect(0)
			t.Fatal("client with a wrong password connected")
		}
	})
	t.Run("anonymous allowed on the dev listener", func(t *testing.T) {
		mustMQTT(t, env.MQTTURL, "", "")
	})

	t.Run("acl", func(t *testing.T) {
		const own, other = "VG-AINGHIA", "TB-HOIAN"
		collector := mustMQTT(t, env.MQTTSecureURL, "collector", env.MQTTPassword(t, "collector"))
		msgs := subscribe(t, collector, "stations/+/readings")
		device := mustMQTT(t, env.MQTTSecureURL, own, env.MQTTPassword(t, own))

		nonce := testenv.UniqueName(t, "n")
		forbidden := "forbidden " + nonce
		allowed := "allowed " + nonce
		// The broker drops the forbidden publish silently (MQTT 3.1.1 has
		// no negative PUBACK). Messages from one client on one session
		// arrive in order, so once the allowed message that was sent after
		// it has arrived, the forbidden one can no longer come.
		publish(t, device, fmt.Sprintf("stations/%s/readings", other), forbidden)
		publish(t, device, fmt.Sprintf("stations/%s/readings", own), allowed)
		timeout := time.After(waitFor)
		for {
			select {
			case m := <-msgs:
				p := string(m.Payload())
				if !strings.HasSuffix(p, nonce) {
					continue // another test's traffic
				}
				if p == forbidden {
					t.Fatalf("%s published to %s and the collector received it", own, m.Topic())
				}
				if m.Topic() != fmt.Sprintf("stations/%s/readings", own) {
					t.Fatalf("allowed message arrived on %s", m.Topic())
				}
				return
			case <-timeout:
				t.Fatalf("collector did not receive %s's publish to its own topic", own)
			}
		}
	})
}

// TestKafkaProduceConsumeCommit creates a topic through the controller,
// produces with acks=all, consumes part of it in a consumer group and
// commits, then checks that the group resumes after the commit.
func TestKafkaProduceConsumeCommit(t *testing.T) {
	env := testenv.RequireKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := testenv.UniqueName(t, "readings")
	group := testenv.UniqueName(t, "group")

	createTopic(ctx, t, env.KafkaBrokers[0], topic, 1)

	transport := &kafka.Transport{}
	defer transport.CloseIdleConnections()
	w := &kafka.Writer{
		Addr:         kafka.TCP(env.KafkaBrokers...),
		Topic:        topic,
		RequiredAcks: kafka.RequireAll,
		Balancer:     &kafka.Hash{},
		BatchTimeout: 10 * time.Millisecond,
		Transport:    transport,
	}
	const n = 10
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte("VG-AINGHIA"), Value: []byte(fmt.Sprintf("reading-%d", i))}
	}
	if err := writeRetry(ctx, w, msgs...); err != nil {
		t.Fatalf("produce %d messages to %s: %v", n, topic, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close writer: %v", err)
	}

	const committed = 4
	r1 := newGroupReader(env.KafkaBrokers, topic, group)
	for i := range committed {
		m, err := r1.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		if want := fmt.Sprintf("reading-%d", i); string(m.Value) != want || m.Offset != int64(i) {
			t.Fatalf("fetch %d: got %q at offset %d, want %q at %d", i, m.Value, m.Offset, want, i)
		}
		if err := r1.CommitMessages(ctx, m); err != nil {
			t.Fatalf("commit offset %d: %v", m.Offset, err)
		}
	}
	// Fetched but not committed: must be delivered again.
	if _, err := r1.FetchMessage(ctx); err != nil {
		t.Fatalf("fetch uncommitted: %v", err)
	}
	if err := r1.Close(); err != nil {
		t.Fatalf("close reader: %v", err)
	}

	client := &kafka.Client{Addr: kafka.TCP(env.KafkaBrokers...), Transport: transport}
	off, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	if off.Error != nil || len(off.Topics[topic]) != 1 || off.Topics[topic][0].Error != nil {
		t.Fatalf("offset fetch: %+v", off)
	}
	if got := off.Topics[topic][0].CommittedOffset; got != committed {
		t.Fatalf("committed offset = %d, want %d (the next message to read)", got, committed)
	}

	r2 := newGroupReader(env.KafkaBrokers, topic, group)
	defer r2.Close()
	m, err := r2.FetchMessage(ctx)
	if err != nil {
		t.Fatalf("fetch after rejoin: %v", err)
	}
	if m.Offset != committed || string(m.Value) != fmt.Sprintf("reading-%d", committed) {
		t.Fatalf("after rejoin got %q at offset %d, want reading-%d at %d", m.Value, m.Offset, committed, committed)
	}

	deleteTopic(t, env.KafkaBrokers[0], topic)
}

func newGroupReader(brokers []string, topic, group string) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:           brokers,
		Topic:             topic,
		GroupID:           group,
		StartOffset:       kafka.FirstOffset,
		MaxWait:           250 * time.Millisecond,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
	})
}

// writeRetry retries while the new topic's leadership propagates.
func writeRetry(ctx context.Context, w *kafka.Writer, msgs ...kafka.Message) error {
	for attempt := 1; ; attempt++ {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		if !errors.Is(err, kafka.UnknownTopicOrPartition) && !errors.Is(err, kafka.LeaderNotAvailable) || attempt >= 20 {
			return fmt.Errorf("attempt %d: %w", attempt, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func controllerConn(t *testing.T, broker string) *kafka.Conn {
	t.Helper()
	conn, err := kafka.Dial("tcp", broker)
	if err != nil {
		t.Fatalf("dial %s: %v", broker, err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("controller: %v", err)
	}
	cc, err := kafka.Dial("tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		t.Fatalf("dial controller %s:%d: %v", ctrl.Host, ctrl.Port, err)
	}
	return cc
}

func createTopic(ctx context.Context, t *testing.T, broker, topic string, partitions int) {
	t.Helper()
	cc := controllerConn(t, broker)
	defer cc.Close()
	if err := cc.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	// Wait until the broker's metadata shows the partition with a leader.
	for {
		conn, err := kafka.DialContext(ctx, "tcp", broker)
		if err == nil {
			parts, err := conn.ReadPartitions(topic)
			conn.Close()
			if err == nil && len(parts) == partitions && parts[0].Leader.ID >= 0 && parts[0].Leader.Host != "" {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s has no leader: %v", topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func deleteTopic(t *testing.T, broker, topic string) {
	t.Helper()
	cc := controllerConn(t, broker)
	defer cc.Close()
	if err := cc.DeleteTopics(topic); err != nil {
		t.Errorf("delete topic %s: %v", topic, err)
	}
}

// TestKafkaAutoCreateDisabled checks the broker setting the project relies
// on: producing to a topic nobody created fails instead of creating it.
func TestKafkaAutoCreateDisabled(t *testing.T) {
	env := testenv.RequireKafka(t)
	topic := testenv.UniqueName(t, "nosuch")
	conn, err := kafka.Dial("tcp", env.KafkaBrokers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A metadata request for one topic would auto-create it if enabled.
	if _, err := conn.ReadPartitions(topic); !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Fatalf("metadata for missing topic %s: err = %v, want UnknownTopicOrPartition", topic, err)
	}
	if _, err := conn.ReadPartitions(topic); !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Fatalf("topic %s exists after a metadata request: err = %v", topic, err)
	}
}

// TestInfluxWriteAndQuery writes a point with the write-only token and
// reads it back with a Flux query using the operator token.
func TestInfluxWriteAndQuery(t *testing.T) {
	env := testenv.RequireInflux(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	measurement := testenv.UniqueName(t, "smoke")
	ts := time.Now().UTC().Truncate(time.Millisecond)
	const level = 3.25

	writer := influxdb2.NewClient(env.InfluxURL, env.InfluxWriteToken)
	defer writer.Close()
	p := influxdb2.NewPoint(measurement,
		map[string]string{"station": "VG-AINGHIA"},
		map[string]any{"water_level_m": level},
		ts)
	if err := writer.WriteAPIBlocking(env.InfluxOrg, env.InfluxBucket).WritePoint(ctx, p); err != nil {
		t.Fatalf("write with the write token: %v", err)
	}

	op := influxdb2.NewClient(env.InfluxURL, env.InfluxToken)
	defer op.Close()
	flux := fmt.Sprintf(`from(bucket: %q)
  |> range(start: -1h, stop: 1m)
  |> filter(fn: (r) => r._measurement == %q and r._field == "water_level_m")`, env.InfluxBucket, measurement)
	res, err := op.QueryAPI(env.InfluxOrg).Query(ctx, flux)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var rows int
	for res.Next() {
		rows++
		r := res.Record()
		if v, ok := r.Value().(float64); !ok || v != level {
			t.Errorf("value = %v (%T), want %v", r.Value(), r.Value(), level)
		}
		if r.ValueByKey("station") != "VG-AINGHIA" {
			t.Errorf("station tag = %v", r.ValueByKey("station"))
		}
		if !r.Time().Equal(ts) {
			t.Errorf("time = %v, want %v", r.Time(), ts)
		}
	}
	if err := res.Err(); err != nil {
		t.Fatalf("query result: %v", err)
	}
	if rows != 1 {
		t.Fatalf("query returned %d rows, want 1", rows)
	}

	// The write token must not read.
	if res, err := writer.QueryAPI(env.InfluxOrg).Query(ctx, flux); err == nil {
		n := 0
		for res.Next() {
			n++
		}
		t.Fatalf("query with the write-only token succeeded (%d rows, err %v)", n, res.Err())
	}

	org, err := op.OrganizationsAPI().FindOrganizationByName(ctx, env.InfluxOrg)
	if err != nil {
		t.Fatalf("find org: %v", err)
	}
	bucket, err := op.BucketsAPI().FindBucketByName(ctx, env.InfluxBucket)
	if err != nil {
		t.Fatalf("find bucket: %v", err)
	}
	if err := op.DeleteAPI().Delete(ctx, org, bucket, ts.Add(-time.Second), ts.Add(time.Second),
		fmt.Sprintf("_measurement=%q", measurement)); err != nil {
		t.Errorf("delete test data: %v", err)
	}
}

// TestServicesStatus runs the script's health check; every server must be
// healthy while the integration tests run.
func TestServicesStatus(t *testing.T) {
	testenv.Services(t)
	out, ok := testenv.ScriptStatus(t)
	if !ok {
		t.Fatalf("services status: not all healthy:\n%s", out)
	}
	for _, svc := range []string{testenv.Mosquitto, testenv.Kafka, testenv.InfluxDB, testenv.SMTP} {
		if !strings.Contains(out, svc) {
			t.Errorf("status output does not mention %s:\n%s", svc, out)
		}
	}
}

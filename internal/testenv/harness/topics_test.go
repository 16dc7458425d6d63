package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/resilience-project/resilience/internal/kafkax"
	"github.com/resilience-project/resilience/internal/testenv"
	"github.com/resilience-project/resilience/schemas"
)

// TestDeleteTopicsDeletesEveryTopic: a run's cleanup leaves none of the
// topics the stack creates (it used to leave the actions topic, and the
// broker then held every run's), and a prefix whose topics were never
// created is not an error.
func TestDeleteTopicsDeletesEveryTopic(t *testing.T) {
	env := testenv.RequireKafka(t)
	prefix := fmt.Sprintf("deltopics-%d.", time.Now().UnixNano())
	tp := schemas.Topics(prefix)
	names := []string{tp.Readings, tp.DLQ, tp.Alerts, tp.State, tp.Actions}
	var specs []kafkax.TopicSpec
	for _, n := range names {
		specs = append(specs, kafkax.TopicSpec{Name: n, Partitions: 1, ReplicationFactor: 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := kafkax.EnsureTopics(ctx, env.KafkaBrokers, nil, specs...); err != nil {
		t.Fatal(err)
	}
	if err := DeleteTopics(env.KafkaBrokers, tp); err != nil {
		t.Fatal(err)
	}
	cl, done := kafkax.NewClient(env.KafkaBrokers, nil)
	defer done()
	for {
		md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, tm := range md.Topics {
			if tm.Error == nil {
				left = append(left, tm.Name)
			}
		}
		if len(left) == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("topics left a minute after DeleteTopics: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := DeleteTopics(env.KafkaBrokers, schemas.Topics(prefix+"never.")); err != nil {
		t.Errorf("deleting topics that were never created: %v", err)
	}
}

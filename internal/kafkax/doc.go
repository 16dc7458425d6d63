// Package kafkax holds the project's safe defaults for segmentio/kafka-go:
// a synchronous, acks=all Writer (a kafka.Writer{} literal defaults to
// acks=0, a 1 s batch timeout and per-partition batch sizes), topic creation
// through the controller, and the Java-compatible murmur2 partitioner that
// every producer in the project uses so that a station's readings, its
// state changelog and its alerts land on the same partition number.
package kafkax

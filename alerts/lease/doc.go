// Package lease elects the one replica of the alerts service that
// dispatches notifications. Every replica folds the alert topics into its
// store (the API is served everywhere), but only the holder of the lease
// decides and sends: partition 0 of a Kafka topic (the notification log's)
// assigned through a consumer group. Kafka gives a partition to one member
// of a generation at a time and the next generation only starts once the
// previous member left or its session expired, so two replicas do not
// dispatch at the same time, except for the window in which a member cut
// off from Kafka has not yet noticed its session is gone (at most the
// session timeout): notifications decided then carry the same ids
// (nflog.Key), so a duplicate is deduplicable.
//
// Why one dispatcher and not a split of the `alerts` partitions between
// replicas: a notification group (group_by, e.g. one per basin or
// severity) gathers alerts of many stations, and stations are spread over
// every partition; split by partition, each replica would send its own
// partial group, and the repeats, escalations and the once-per-group
// guarantee would break. Alert volume is tiny, so one dispatcher is
// enough; the second replica is a hot standby that holds the same groups
// (it is given every event) and takes over on the lease.
//
// Run(ctx, term) calls term for every term of office with a context that
// ends when the lease is lost; it returns nil when ctx ends.
package lease

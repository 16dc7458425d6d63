package schemas

// KafkaTopics names the project's Kafka topics. A prefix (config key
// kafka.topic_prefix) lets several deployments, or several test runs, share
// one cluster.
type KafkaTopics struct {
	Readings, DLQ, Alerts, State string
	// Actions is the operator actions topic (KafkaAlertActions).
	Actions string
}

// Topics returns the topic names with prefix.
func Topics(prefix string) KafkaTopics {
	return KafkaTopics{Readings: prefix + KafkaReadings, DLQ: prefix + KafkaDLQ, Alerts: prefix + KafkaAlerts, State: prefix + KafkaState,
		Actions: prefix + KafkaAlertActions}
}

// OrDefault returns t, or the unprefixed names if t is zero.
func (t KafkaTopics) OrDefault() KafkaTopics {
	if t == (KafkaTopics{}) {
		return Topics("")
	}
	return t
}

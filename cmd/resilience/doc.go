// Command resilience is the one binary of the project.
//
//	resilience run [--dev] [--config FILE]   every part in one process (embedded brokers if none configured)
//	resilience ingest --config FILE          the MQTT collector only
//	resilience process --config FILE         the stream processor only
//	resilience alerts --config FILE          the alerts service only
//	resilience check-config --config FILE    validate the configuration and exit
//	resilience rules check FILE              validate a rules file
//	resilience rules backtest ...            run the rules over stored history
//	resilience hash-password                 bcrypt a password read from stdin (credentials file)
//
// main wires the components by hand; see stack.go.
package main

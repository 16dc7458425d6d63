// Command svcprobe is the readiness probe and InfluxDB provisioner used by
// deployments/local/services. It is not part of the product.
//
//	svcprobe kafka  -brokers 127.0.0.1:9092 -wait 90s
//	svcprobe influx-setup -url http://127.0.0.1:8086 -org resilience \
//	    -bucket readings -extra-buckets alerts -state-dir .cache/services/influxdb
//
// Secrets are only read from and written to files (mode 0600), never taken
// from or printed to the command line.
package main

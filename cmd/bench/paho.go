package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// pahoDrainCmd is the hidden subcommand that runs the bare paho subscriber
// in a process of its own.
const pahoDrainCmd = "paho-drain"

// pahoReport is what `bench paho-drain` prints (one JSON line): its own
// times and CPU at the first and the last message.
type pahoReport struct {
	Count     int64     `json:"count"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	CPUFirst  float64   `json:"cpu_first"`
	CPULast   float64   `json:"cpu_last"`
	Connected time.Time `json:"connected"`
}

// drain converts the report (the servers' CPU is not known at the child's
// times).
func (r pahoReport) drain() drain {
	unknown := [3]float64{-1, -1, -1}
	return drain{First: sample{At: r.First, Count: 1, CPU: r.CPUFirst, Servers: unknown},
		Last: sample{At: r.Last, Count: r.Count, CPU: r.CPULast, Servers: unknown}}
}

// pahoDrain is `bench paho-drain -url U -client-id C -filter F -n N`: it
// resumes the persistent session C (clean session off), subscribes F at
// QoS 1 and counts messages until N, acknowledging each when the handler
// returns (paho's default): nothing else. It prints a pahoReport.
func pahoDrain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(pahoDrainCmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "broker URL")
	id := fs.String("client-id", "", "client id of the persistent session")
	filter := fs.String("filter", "", "topic filter")
	n := fs.Int64("n", 0, "messages to receive")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rep, err := runPahoDrain(*url, *id, *filter, *n, *timeout)
	if err != nil {
		fmt.Fprintln(stderr, "bench paho-drain:", err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		fmt.Fprintln(stderr, "bench paho-drain:", err)
		return 1
	}
	return 0
}

func runPahoDrain(url, id, filter string, want int64, timeout time.Duration) (pahoReport, error) {
	if url == "" || id == "" || filter == "" || want < 1 {
		return pahoReport{}, errors.New("-url, -client-id, -filter and -n are required")
	}
	self := os.Getpid()
	var rep pahoReport
	var count atomic.Int64
	done := make(chan struct{})
	handler := func(_ mqtt.Client, _ mqtt.Message) {
		c := count.Add(1)
		if c == 1 {
			rep.First = time.Now()
			rep.CPUFirst, _ = cpuOf(self)
		}
		if c == want {
			rep.Last = time.Now()
			rep.CPULast, _ = cpuOf(self)
			rep.Count = c
			close(done)
		}
	}
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(handler)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return rep, fmt.Errorf("connect %s as %s: %v", url, id, tok.Error())
	}
	defer c.Disconnect(250)
	rep.Connected = time.Now()
	if tok := c.Subscribe(filter, 1, handler); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return rep, fmt.Errorf("subscribe %s: %v", filter, tok.Error())
	}
	select {
	case <-done:
		return rep, nil
	case <-time.After(timeout):
		return rep, fmt.Errorf("%d of %d messages after %s", count.Load(), want, timeout)
	}
}

// registerSession creates the persistent session id at url with a QoS 1
// subscription to filter and disconnects, so that the broker queues what
// is published from now on for the drainer that resumes it.
func registerSession(url, id, filter string) error {
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return fmt.Errorf("register session %s at %s: connect: %v", id, url, tok.Error())
	}
	defer c.Disconnect(250)
	tok := c.Subscribe(filter, 1, nil)
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return fmt.Errorf("register session %s: subscribe %s: %v", id, filter, tok.Error())
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		if q := st.Result()[filter]; q > 1 {
			return fmt.Errorf("register session %s: subscribe %s refused (SUBACK %#x)", id, filter, q)
		}
	}
	return nil
}

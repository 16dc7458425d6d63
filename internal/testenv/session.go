package testenv

import (
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// DropMQTTSession removes the persistent session of clientID from the
// broker (connect with clean session, disconnect). Tests and load tests
// whose collectors use a fresh client id each run call it when done:
// otherwise the broker keeps queueing every later reading for the dead
// session, and Mosquitto's periodic save of that ever-growing store stalls
// the broker for seconds.
func DropMQTTSession(url, clientID string) error {
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return fmt.Errorf("testenv: drop MQTT session %s at %s: %v", clientID, url, tok.Error())
	}
	c.Disconnect(100)
	return nil
}

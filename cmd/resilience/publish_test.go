package main

import (
	"strings"
	"testing"

	"github.com/resilience-project/resilience/schemas"
)

// Every problem of the publish section names its key.
func TestPublishConfigValidate(t *testing.T) {
	ok := func() PublishConfig {
		c := defaultPublishConfig()
		c.Sender, c.IdentifierPrefix = "pctt.danang.gov.vn", "vn.danang.pctt."
		return c
	}
	tests := []struct {
		name string
		edit func(*PublishConfig)
		want []string // substrings of the error; none: valid
	}{
		{"defaults (off)", func(c *PublishConfig) { *c = defaultPublishConfig() }, nil},
		{"on", func(*PublishConfig) {}, nil},
		{"kafka log", func(c *PublishConfig) { c.Log.Kind = "kafka" }, nil},
		{"bad log kind", func(c *PublishConfig) { c.Log.Kind = "s3" }, []string{"publish.log.kind"}},
		{"bad severity", func(c *PublishConfig) { c.MinSeverity = "severe" }, []string{"publish.min_severity"}},
		{"bad base url", func(c *PublishConfig) { c.BaseURL = "canhbao.example" }, []string{"publish.base_url"}},
		{"sender with a space", func(c *PublishConfig) { c.Sender = "pctt danang" }, []string{"publish:", "sender"}},
		{"bad status", func(c *PublishConfig) { c.Status = "Real" }, []string{"publish:", "status"}},
		{"negative radius", func(c *PublishConfig) { c.RadiusKM = -1 }, []string{"publish:", "radius_km"}},
		{"prefix with a comma", func(c *PublishConfig) { c.IdentifierPrefix = "a,b" }, []string{"identifier_prefix"}},
		{"off still checks the log kind", func(c *PublishConfig) { c.Sender, c.Log.Kind = "", "" }, []string{"publish.log.kind"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.edit(&c)
			errs := c.validate()
			if len(tc.want) == 0 {
				if len(errs) != 0 {
					t.Fatalf("errors %v, want none", errs)
				}
				return
			}
			if len(errs) == 0 {
				t.Fatalf("no error, want %v", tc.want)
			}
			msg := errs[0].Error()
			for _, e := range errs[1:] {
				msg += "; " + e.Error()
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

// The shipped configuration turns public warnings on, with a file log.
func TestShippedConfigPublishes(t *testing.T) {
	c, err := LoadConfig("../../deployments/config/resilience.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Publish.Sender == "" || c.Publish.Log.Kind != "file" || c.Publish.MinSeverity != string(schemas.SeveritySevere) {
		t.Fatalf("publish section %+v", c.Publish)
	}
	if errs := c.Publish.validate(); len(errs) != 0 {
		t.Fatal(errs)
	}
}

// Replicas choose the shared log and the public URL from the environment.
func TestPublishEnv(t *testing.T) {
	c := DefaultConfig()
	env := map[string]string{"RESILIENCE_PUBLISH_LOG_KIND": "kafka", "RESILIENCE_PUBLISH_BASE_URL": "https://canhbao.example"}
	c.ApplyEnv(func(k string) string { return env[k] })
	if c.Publish.Log.Kind != "kafka" || c.Publish.BaseURL != "https://canhbao.example" {
		t.Fatalf("publish after the environment: %+v", c.Publish)
	}
}

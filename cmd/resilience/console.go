package main

import (
	"context"
	"fmt"

	"github.com/resilience-project/resilience/internal/console"
	"github.com/resilience-project/resilience/internal/httpapi"
)

// wireConsole gives the HTTP API the dashboard (GET /, /console/) and the
// event stream (GET /api/v1/events): the hub goes into ho, and the
// returned func, given the built server, runs the hub and the feed that
// publishes the alerts' and stations' changes, beside the server in the
// HTTP stage (the hub ends the open streams when the stage stops).
func (w *wiring) wireConsole(ho *httpapi.Options) func(*httpapi.Server) {
	hub, err := httpapi.NewEvents(httpapi.EventsOptions{Registerer: w.reg, Logger: w.logger})
	if err != nil {
		return func(*httpapi.Server) {
			w.lc.run(stageHTTP, "events", func(context.Context) error { return fmt.Errorf("events: %w", err) })
		}
	}
	ho.Events, ho.Console = hub, console.Handler()
	return func(srv *httpapi.Server) {
		w.lc.run(stageHTTP, "events", hub.Run)
		w.lc.run(stageHTTP, "events-feed", func(ctx context.Context) error { return srv.RunEventFeed(ctx, 0) })
	}
}

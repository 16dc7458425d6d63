// Package console is the operator console: a single-page dashboard
// (plain HTML, CSS and JavaScript modules, no build step, no npm) embedded
// in the binary with go:embed and served by Handler at / and /console/.
//
// Nothing is fetched from outside the binary at run time: no CDN, no
// fonts, no map tiles (a control room may be cut off in a storm). The map
// is an SVG the page draws from the registry's coordinates: the stations
// and, as a schematic, each river as a line through its gauges from west
// to east; it has no national or provincial outline on purpose.
//
// The page holds no data itself: it reads the operator API with the
// bearer token the operator pastes at login (kept in sessionStorage, so
// it is gone with the tab) and follows GET /api/v1/events with a
// single-use ticket (an EventSource cannot send the token in a header, and
// the token must never be put in a URL). The station labels of the map
// are placed by a collision pass (draw.js placeLabels).
//
// A publisher or admin (GET /api/v1/whoami) also sees the Public warnings
// panel: the CAP drafts pending approval (GET /api/v1/cap/drafts, refetched
// after alert events and every 15 s: drafts have no event of their own),
// one draft's texts in vi-VN and en-US to edit with its CAP XML preview,
// Approve (sending only the fields edited) and Discard (with a reason),
// and the issued documents read from the public Atom feed with links to
// /cap/{identifier}.xml. A language switch redraws everything shown, the
// audit log and the last toast included. Every UI string is in two
// catalogs, assets/i18n/vi.json (the default) and en.json; the tests check
// that both have every key the page uses.
//
// The package imports nothing of the project: it serves files.
package console

// Package publish turns alerts into public CAP 1.2 warnings through a
// draft → approved → issued workflow and serves what was issued.
//
// Publisher.Observe folds alert events (deduplicated by event id):
//
//   - an alert that fires or escalates at or above Config.MinSeverity with
//     nothing issued yet gets a draft Alert;
//   - an alert that escalates above the level of its last issued document
//     gets a draft Update;
//   - an alert that resolves after a document was issued gets a draft
//     Cancel (the all-clear); one that resolves with nothing issued loses
//     its draft (there is nothing public to take back);
//   - a newer event about an alert with a pending draft refreshes that
//     draft's facts and default texts (the publisher's edits are passed at
//     approval).
//
// Publisher.Approve(alertID, by, edits) builds the document (cap.Builder),
// appends it to the Log (durable before Approve returns) and only then
// makes it visible; Update and Cancel reference every earlier document of
// the alert. Discard drops a draft. The caller (the console) checks that
// the user has the publisher role before calling Approve or Discard.
//
// The issued documents are the authority: their bytes are stored as
// issued and served unchanged, and New replays the Log, so that replaying
// the alerts topic after a restart re-creates no draft for an event that
// was already published. FileLog is an append-only file of JSON lines
// fsynced per record (a torn last line is cut).
//
// Handler serves GET /cap/feed.atom (an Atom feed of the newest issued
// documents) and GET /cap/{identifier}.xml (one document,
// application/cap+xml).
package publish

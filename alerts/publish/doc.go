// Package publish turns alerts into public CAP 1.2 warnings through a
// draft → approved → issued workflow and serves what was issued.
//
// Publisher.Observe folds alert events (deduplicated by event id) of the
// stations the registry knows (the area is a circle around the station and
// its district) and of its basins (a basin-scope alert, whose station is
// its basin: a circle around each of the basin's stations, the basin and
// their districts); any other alert drafts nothing:
//
//   - an alert that fires or escalates at or above Config.MinSeverity with
//     nothing issued yet gets a draft Alert;
//   - an alert that escalates above the level of its last issued document
//     gets a draft Update;
//   - an alert that resolves after a document was issued gets an
//     all-clear draft: msgType Update with responseType AllClear, urgency
//     Past and a short expiry (CAP practice, e.g. Google Public Alerts'
//     guidance; Cancel is for retracting a message); one that resolves
//     with nothing issued loses its draft (nothing public to take back).
//     The all-clear needs a publisher's approval like any warning: it
//     sends people back into the area;
//   - a newer event about an alert with a pending draft refreshes that
//     draft's facts and default texts (the publisher's edits are passed at
//     approval).
//
// Publisher.Approve(alertID, by, edits) builds the document (cap.Builder),
// appends it to the Log (durable before Approve returns) and only then
// makes it visible; Update and Cancel reference every earlier document of
// the alert. Discard drops a draft with a reason and logs that, so that
// neither a restart nor another replica drafts it again from the same
// events (a later event may). The caller (the console) checks that the
// user has the publisher role before calling Approve or Discard.
//
// Replicas: every replica observes every alert event (so each holds the
// same drafts); with a shared Log (KafkaLog, one partition) Run folds the
// records other replicas append, and of two records with the same
// identifier (two publishers approving the same draft on two replicas at
// once) the first in the log is the issued document on every replica; the
// other Approve returns ErrAlreadyIssued. KafkaLog is that shared log:
// one partition of the topic <prefix>cap.log (unlimited retention, not
// compacted, so the first record of an identifier always stays), read to
// its end at open and followed by Run; Append waits until its record is
// read back, so it knows whether it was first.
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

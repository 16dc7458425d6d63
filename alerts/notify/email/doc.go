// Package email is the notification channel over SMTP: one mail per
// notification, multipart/alternative with a plain-text and an HTML part,
// in the receiver's language (vi or en, alerts/notify.Render).
//
// STARTTLS is used whenever the server offers it (RequireTLS refuses to
// send without it); credentials come from a file (LoadAuth, one line
// "user:password") and are never sent over a connection that is neither
// TLS nor loopback (net/smtp's PLAIN refuses).
//
// The mail is deterministic for a notification: its Message-ID is
// <notification id@MessageIDDomain> and its Date the notification's time,
// so a resend after a crash is the same message, which a mailbox or a
// test's Maildir count deduplicates by Message-ID. SMTP itself does not
// deduplicate: a server that accepted the first copy delivers the second.
//
// SMTP replies 5xx are permanent (notify.ErrPermanent); 4xx and network
// errors are retried.
package email

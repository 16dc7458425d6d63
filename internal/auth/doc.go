// Package auth authenticates and authorises HTTP API requests with bearer
// tokens.
//
// Tokens live in a file (Load): a YAML list of {name, role, token_hash,
// created}. token_hash is the SHA-256 (64 lowercase hex digits) of the
// token, never the token itself. A plain SHA-256 and not bcrypt: the
// tokens are 256-bit random secrets (NewToken), so there is nothing for a
// slow or salted hash to protect against (no dictionary, no guessable
// token: brute force of a 2^256 space is out of reach at any hash speed),
// while bcrypt would cost tens of milliseconds of CPU per request and let
// anybody with a bad token load the two-core server. Comparison is in
// constant time over every entry of the file (subtle.ConstantTimeCompare,
// no early exit), so response time does not tell how much of a hash
// matched.
//
// Roles are ordered viewer < operator < publisher < admin; a Permission
// needs a minimum role (Permission.MinRole) and a role has every
// permission of the roles below it. The table of routes and their
// permissions belongs to the HTTP layer (httpapi.Routes);
// Authenticator.Require wraps a handler: PermPublic needs no token;
// no or a malformed Authorization header → 401 with WWW-Authenticate:
// Bearer; an unknown token → 401 with error="invalid_token"; over the
// token's rate (a token bucket per token name) → 429 with Retry-After;
// a role below the permission → 403. PermHealth (/healthz, /readyz,
// /metrics) is open to loopback clients without a token and needs a
// viewer token from anywhere else; loopback is judged by the connection's
// address (X-Forwarded-For is not trusted), so behind a reverse proxy on
// the same host every request looks local: restrict /metrics and the
// health routes at the proxy then. The rate limit comes before the role
// check, so a token cannot probe forbidden routes faster than its rate;
// requests without a valid token are not rate limited here (bound them
// at the listener or proxy). The authenticated Principal is in the
// request's context (FromContext), for the audit log.
//
// LimitBody bounds request bodies (413); ParseLimit bounds page sizes.
package auth

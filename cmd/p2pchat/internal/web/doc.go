// Package web serves p2pchat's browser UI: static files embedded in the
// binary and, behind a login, the node's /v1 API on a TCP listener.
//
// The page can send as the node's user, so [Server] admits a browser only
// with a one-time login token (from [Server.Login], handed out over the
// API's Unix socket), which it exchanges for an HttpOnly, SameSite=Strict
// session cookie and a session token handed to the page in the address
// fragment; every API call must carry both (the token in a header), since
// browsers send a host's cookies to all its ports. Requests whose Host is not the listening address or
// localhost (DNS rebinding), and cross-origin requests, are refused before
// anything else; every answer carries a strict Content-Security-Policy.
// docs/API.md describes the model.
package web

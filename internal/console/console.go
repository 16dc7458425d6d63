package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var embedded embed.FS

// contentSecurityPolicy allows only the console's own files and the API
// of the same origin: no inline script, nothing from another host.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Assets is the console's file tree (index.html, app.js, style.css,
// i18n/*.json).
func Assets() fs.FS {
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Handler serves the console: GET / is index.html, GET /console/{file}
// the other files. Every answer carries a strict Content-Security-Policy.
func Handler() http.Handler {
	files := http.FileServerFS(Assets())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		switch {
		case r.URL.Path == "/" || r.URL.Path == "/index.html":
			http.ServeFileFS(w, r, Assets(), "index.html")
		case strings.HasPrefix(r.URL.Path, "/console/"):
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/console")
			if r2.URL.Path == "/" || r2.URL.Path == "/index.html" {
				http.Redirect(w, r, "/", http.StatusMovedPermanently)
				return
			}
			files.ServeHTTP(w, r2)
		default:
			http.NotFound(w, r)
		}
	})
}

package auth

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/managarten/mana-auth/plugin"
)

// router dispatches requests to endpoints with an http.ServeMux: an
// endpoint's ":name" segments become the mux's "{name}" wildcards.
type router struct {
	mux    *http.ServeMux
	routes []string // "METHOD /full/path", for Routes
}

// newRouter returns a router whose unmatched requests get serve's
// notFound: an empty 404, as Better Auth answers.
func newRouter() *router {
	mux := http.NewServeMux()
	mux.HandleFunc("/", notFound) // also keeps the mux from answering 405 itself
	return &router{mux: mux}
}

func notFound(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }

// add mounts e under basePath; serve handles its requests with the path
// parameters.
func (rt *router) add(basePath string, e plugin.Endpoint, serve func(http.ResponseWriter, *http.Request, *plugin.Endpoint, map[string]string)) (err error) {
	if e.Handler == nil || e.Method == "" || !strings.HasPrefix(e.Path, "/") {
		return fmt.Errorf("auth: invalid endpoint %s %q", e.Method, e.Path)
	}
	e.Method = strings.ToUpper(e.Method)
	segs := strings.Split(e.Path, "/")
	var names []string
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + name + "}"
			names = append(names, name)
		}
	}
	pattern := e.Method + " " + basePath + strings.Join(segs, "/")
	defer func() {
		if p := recover(); p != nil { // the mux refuses a pattern that conflicts with another
			err = fmt.Errorf("auth: endpoint %s %s registered twice (%v)", e.Method, e.Path, p)
		}
	}()
	ep := &e
	rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != ep.Method { // a GET pattern also matches HEAD
			notFound(w, r)
			return
		}
		var params map[string]string
		for _, n := range names {
			v := r.PathValue(n)
			if v == "" {
				notFound(w, r)
				return
			}
			if params == nil {
				params = make(map[string]string, len(names))
			}
			params[n] = v
		}
		serve(w, r, ep, params)
	})
	rt.routes = append(rt.routes, e.Method+" "+basePath+e.Path)
	return nil
}

// Routes lists the mounted routes as "METHOD /full/path", for docs and tests.
func (a *Auth) Routes() []string { return append([]string(nil), a.router.routes...) }

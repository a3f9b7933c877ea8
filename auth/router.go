package auth

import (
	"fmt"
	"strings"

	"github.com/managarten/mana-auth/plugin"
)

type router struct {
	static map[string]*plugin.Endpoint // "METHOD /path"
	params []*plugin.Endpoint
	paths  map[string]bool // every static path, any method
}

func newRouter() *router {
	return &router{static: map[string]*plugin.Endpoint{}, paths: map[string]bool{}}
}

func (rt *router) add(e plugin.Endpoint) error {
	if e.Handler == nil || e.Method == "" || !strings.HasPrefix(e.Path, "/") {
		return fmt.Errorf("auth: invalid endpoint %s %q", e.Method, e.Path)
	}
	e.Method = strings.ToUpper(e.Method)
	if strings.Contains(e.Path, "/:") {
		for _, o := range rt.params {
			if o.Method == e.Method && o.Path == e.Path {
				return fmt.Errorf("auth: endpoint %s %s registered twice", e.Method, e.Path)
			}
		}
		rt.params = append(rt.params, &e)
		return nil
	}
	k := e.Method + " " + e.Path
	if rt.static[k] != nil {
		return fmt.Errorf("auth: endpoint %s %s registered twice", e.Method, e.Path)
	}
	rt.static[k] = &e
	rt.paths[e.Path] = true
	return nil
}

// match finds the endpoint for method and path (relative to BasePath).
func (rt *router) match(method, path string) (*plugin.Endpoint, map[string]string) {
	if e := rt.static[method+" "+path]; e != nil {
		return e, nil
	}
	segs := strings.Split(path, "/")
	for _, e := range rt.params {
		if e.Method != method {
			continue
		}
		psegs := strings.Split(e.Path, "/")
		if len(psegs) != len(segs) {
			continue
		}
		var params map[string]string
		ok := true
		for i, p := range psegs {
			if strings.HasPrefix(p, ":") {
				if segs[i] == "" {
					ok = false
					break
				}
				if params == nil {
					params = map[string]string{}
				}
				params[p[1:]] = segs[i]
			} else if p != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return e, params
		}
	}
	return nil, nil
}

// Routes lists the mounted routes as "METHOD /full/path", for docs and tests.
func (a *Auth) Routes() []string {
	var out []string
	for _, e := range a.router.static {
		out = append(out, e.Method+" "+a.cfg.BasePath+e.Path)
	}
	for _, e := range a.router.params {
		out = append(out, e.Method+" "+a.cfg.BasePath+e.Path)
	}
	return out
}

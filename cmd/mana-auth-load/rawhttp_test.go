package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// rawServer is a net/http server whose handlers the rawConn tests call,
// counting the connections it accepts.
func rawServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s ua=%s xff=%s auth=%s cookie=%s ct=%s body=%s",
			r.Method, r.URL.Path, r.UserAgent(), r.Header.Get("X-Forwarded-For"), r.Header.Get("Authorization"),
			r.Header.Get("Cookie"), r.Header.Get("Content-Type"), b)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := range 5 {
			fmt.Fprintf(w, "part%d;", i)
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
	})
	mux.HandleFunc("/denied", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"code":"UNAUTHORIZED"}`)
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(maxBody+5000))
		w.Write(bytes.Repeat([]byte("a"), maxBody+5000))
	})
	mux.HandleFunc("/bigchunked", func(w http.ResponseWriter, r *http.Request) {
		for range 20 {
			w.Write(bytes.Repeat([]byte("b"), 5000))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "late")
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// TestRawConnMatchesNetHTTP: for every kind of answer the scenarios can
// meet, rawConn gives the status and body (its first maxBody bytes) that
// the tool's net/http client gives, sends the same request, and keeps one
// connection for all of them.
func TestRawConnMatchesNetHTTP(t *testing.T) {
	t.Parallel()
	srv, conns := rawServer(t)
	rc, err := newRawConn(srv.URL, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	e := &env{base: srv.URL}
	client := newClient(1, 5*time.Second)
	defer client.CloseIdleConnections()
	cases := []struct {
		name, method, path string
		body               []byte
		ip                 string
		c                  cred
	}{
		{"get with a bearer token", "GET", "/echo", nil, "10.0.0.1", cred{bearer: "tok.sig"}},
		{"get with cookies", "GET", "/echo", nil, "10.0.0.2", cred{cookie: "a=b; c=d"}},
		{"post with a body", "POST", "/echo", []byte(`{"email":"x@example.com"}`), "", cred{}},
		{"chunked answer", "GET", "/chunked", nil, "", cred{}},
		{"401 with a body", "GET", "/denied", nil, "", cred{}},
		{"204 without a body", "GET", "/empty", nil, "", cred{}},
		{"a body longer than kept", "GET", "/big", nil, "", cred{}},
		{"a chunked body longer than kept", "GET", "/bigchunked", nil, "", cred{}},
		{"the connection still works", "GET", "/echo", nil, "10.0.0.3", cred{}},
	}
	for _, tc := range cases {
		wantStatus, wantBody, err := e.do(context.Background(), client, tc.method, tc.path, tc.body, tc.ip, tc.c)
		if err != nil {
			t.Fatalf("%s: net/http: %v", tc.name, err)
		}
		status, body, err := rc.do(tc.method, tc.path, tc.body, tc.ip, tc.c)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if status != wantStatus {
			t.Errorf("%s: status %d, net/http %d", tc.name, status, wantStatus)
		}
		if diff := cmp.Diff(string(wantBody), string(body)); diff != "" {
			t.Errorf("%s: body (-net/http +raw):\n%.2000s", tc.name, diff)
		}
	}
	// net/http's client made one connection, rawConn one.
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections for two clients, want 2 (each kept its own)", n)
	}
}

// TestRawConnReconnects: an answer with Connection: close, a connection
// the server closed while idle, and a timeout each end the connection; the
// next request dials again and succeeds (the idle close without any
// error).
func TestRawConnReconnects(t *testing.T) {
	t.Parallel()
	srv, conns := rawServer(t)
	rc, err := newRawConn(srv.URL, 150*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	get := func(path string) (int, string, error) {
		st, b, err := rc.do("GET", path, nil, "", cred{})
		return st, string(b), err
	}
	steps := []struct {
		name      string
		path      string
		before    func()
		wantBody  string
		wantErr   bool
		wantConns int64
	}{
		{name: "first", path: "/echo", wantBody: "GET /echo ua=mana-auth-load xff= auth= cookie= ct= body=", wantConns: 1},
		{name: "Connection: close", path: "/close", wantBody: "bye", wantConns: 1},
		{name: "after close: a new connection", path: "/echo", wantBody: "GET /echo ua=mana-auth-load xff= auth= cookie= ct= body=", wantConns: 2},
		{name: "idle connection closed by the server: sent again", path: "/echo", before: srv.CloseClientConnections,
			wantBody: "GET /echo ua=mana-auth-load xff= auth= cookie= ct= body=", wantConns: 3},
		{name: "timeout", path: "/slow", wantErr: true, wantConns: 3},
		{name: "after the timeout", path: "/echo", wantBody: "GET /echo ua=mana-auth-load xff= auth= cookie= ct= body=", wantConns: 4},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		st, body, err := get(s.path)
		switch {
		case s.wantErr && err == nil:
			t.Errorf("%s: %d %q, want an error", s.name, st, body)
		case !s.wantErr && (err != nil || st != 200 || body != s.wantBody):
			t.Errorf("%s: %d %q %v, want 200 %q", s.name, st, body, err, s.wantBody)
		}
		if n := conns.Load(); n != s.wantConns {
			t.Errorf("%s: %d connections so far, want %d", s.name, n, s.wantConns)
		}
	}
}

// TestRawConnRefuses: a non-loopback target is never dialled, an https
// one is not raw's to serve, and a malformed answer is an error.
func TestRawConnRefuses(t *testing.T) {
	t.Parallel()
	if _, err := newRawConn("https://127.0.0.1:1", time.Second); err == nil {
		t.Error("https target accepted")
	}
	rc, err := newRawConn("http://203.0.113.5:80", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := rc.do("GET", "/", nil, "", cred{}); !errors.Is(err, errNotLoopback) {
		t.Errorf("non-loopback dial: %v, want errNotLoopback", err)
	}

	for _, answer := range []string{
		"garbage\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			c.Read(buf)
			io.WriteString(c, answer)
			c.Close()
		}()
		rc, err := newRawConn("http://"+ln.Addr().String(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if st, body, err := rc.do("GET", "/", nil, "", cred{}); err == nil {
			t.Errorf("answer %q: %d %q, want an error", answer, st, body)
		}
		ln.Close()
	}
	if !strings.EqualFold("Content-Length", "content-length") || !asciiEqualFold([]byte("CONTENT-length"), "Content-Length") || asciiEqualFold([]byte("Content-Lengt"), "Content-Length") {
		t.Error("asciiEqualFold")
	}
}

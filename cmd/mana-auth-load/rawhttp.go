package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// rawConn is one virtual user's keep-alive HTTP/1.1 connection, written and
// read by hand: the client of the measured loop (--client=raw, the
// default). net/http's client runs three goroutines per request (the
// caller, the connection's reader and writer) and builds a Request and a
// Response with their header maps; on a 2-core machine shared with the
// server that costs the tool about as much CPU as the cheapest routes cost
// the server. rawConn writes the request with one write and reads the
// answer on the calling goroutine, the way wrk does, so more of the machine
// is left to the server under test, whichever server that is.
//
// It speaks just what the scenarios need: a request line, a few headers
// and an optional body; an answer with Content-Length, chunked transfer
// coding or (Connection: close) a body to EOF. A connection that fails is
// closed and the next request dials again; a request whose reused
// connection turns out closed by the server before any byte of the answer
// is sent once more on a new one (as net/http does).
type rawConn struct {
	addr, host string // dial address and Host header
	timeout    time.Duration

	c    net.Conn
	br   *bufio.Reader
	req  []byte // the request being written, reused
	body []byte // the answer's body (up to maxBody bytes), reused
}

// maxBody is how much of an answer's body do keeps; the rest is read and
// dropped, so the connection stays usable.
const maxBody = 64 << 10

// newRawConn returns a client for base (http://host:port), or an error if
// base is not plain http.
func newRawConn(base string, timeout time.Duration) (*rawConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Path != "" {
		return nil, fmt.Errorf("raw client: %q is not an http://host:port URL", base)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &rawConn{addr: addr, host: u.Host, timeout: timeout}, nil
}

// Close closes the connection, if open.
func (rc *rawConn) Close() {
	if rc.c != nil {
		rc.c.Close()
		rc.c, rc.br = nil, nil
	}
}

var errAnswer = errors.New("raw client: malformed answer")

// do sends one request and returns the status and the start of the body
// (valid until the next call), as env.do does.
func (rc *rawConn) do(method, path string, body []byte, ip string, c cred) (int, []byte, error) {
	rc.build(method, path, body, ip, c)
	reused := rc.c != nil
	status, b, err := rc.roundTrip()
	if err != nil && reused && status == 0 && closedByPeer(err) {
		status, b, err = rc.roundTrip() // the server had closed the idle connection
	}
	return status, b, err
}

// closedByPeer reports whether err is the peer's closing of the connection
// (not a timeout or a malformed answer).
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// build writes the request into rc.req.
func (rc *rawConn) build(method, path string, body []byte, ip string, c cred) {
	b := rc.req[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, rc.host...)
	b = append(b, "\r\nUser-Agent: mana-auth-load\r\n"...)
	if ip != "" {
		b = append(b, "X-Forwarded-For: "...)
		b = append(b, ip...)
		b = append(b, "\r\n"...)
	}
	if c.bearer != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, c.bearer...)
		b = append(b, "\r\n"...)
	}
	if c.cookie != "" {
		b = append(b, "Cookie: "...)
		b = append(b, c.cookie...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	rc.req = append(b, body...)
}

// roundTrip writes rc.req and reads the answer; status is 0 when no
// status line arrived.
func (rc *rawConn) roundTrip() (status int, body []byte, err error) {
	if rc.c == nil {
		d := net.Dialer{Timeout: 5 * time.Second, Control: loopbackControl}
		c, err := d.Dial("tcp", rc.addr)
		if err != nil {
			return 0, nil, err
		}
		rc.c, rc.br = c, bufio.NewReaderSize(c, 16<<10)
	}
	if err := rc.c.SetDeadline(time.Now().Add(rc.timeout)); err != nil {
		rc.Close()
		return 0, nil, err
	}
	if _, err := rc.c.Write(rc.req); err != nil {
		rc.Close()
		return 0, nil, err
	}
	status, body, keep, err := rc.read()
	if err != nil || !keep {
		rc.Close()
	}
	return status, body, err
}

// read reads one answer: its status, the start of its body, and whether
// the connection may carry the next request.
func (rc *rawConn) read() (status int, body []byte, keep bool, err error) {
	line, err := rc.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, nil, false, errAnswer
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return 0, nil, false, errAnswer
	}
	keep = line[7] == '1' // HTTP/1.1 keeps the connection unless told otherwise
	length, chunked := int64(-1), false
	for {
		line, err = rc.br.ReadSlice('\n')
		if err != nil {
			return status, nil, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return status, nil, false, errAnswer
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return status, nil, false, errAnswer
			}
		case asciiEqualFold(name, "Transfer-Encoding"):
			chunked = asciiEqualFold(value, "chunked")
		case asciiEqualFold(name, "Connection"):
			if asciiEqualFold(value, "close") {
				keep = false
			} else if asciiEqualFold(value, "keep-alive") {
				keep = true
			}
		}
	}
	rc.body = rc.body[:0]
	switch {
	case status == 204 || status == 304 || (status >= 100 && status < 200):
		// no body
	case chunked:
		err = rc.readChunked()
	case length >= 0:
		err = rc.readN(length)
	default: // the body runs to the end of the connection
		keep = false
		err = rc.readN(-1)
	}
	if err != nil {
		return status, nil, false, err
	}
	return status, rc.body, keep, nil
}

// readN reads a body of n bytes (to EOF when n < 0) into rc.body,
// keeping at most maxBody of them.
func (rc *rawConn) readN(n int64) error {
	if n < 0 {
		b, err := io.ReadAll(io.LimitReader(rc.br, maxBody))
		if err == nil {
			_, err = io.Copy(io.Discard, rc.br)
		}
		rc.body = append(rc.body, b...)
		return err
	}
	keep := min(n, maxBody)
	rc.body = append(rc.body, make([]byte, keep)...)
	if _, err := io.ReadFull(rc.br, rc.body); err != nil {
		return err
	}
	_, err := rc.br.Discard(int(n - keep))
	return err
}

// readChunked reads a chunked body (RFC 9112 section 7.1) into rc.body,
// keeping at most maxBody bytes; trailers are skipped.
func (rc *rawConn) readChunked() error {
	for {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return errAnswer
		}
		if size == 0 {
			for { // trailers, then the empty line
				line, err := rc.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		keep := min(size, int64(maxBody-len(rc.body)))
		if keep > 0 {
			start := len(rc.body)
			rc.body = append(rc.body, make([]byte, keep)...)
			if _, err := io.ReadFull(rc.br, rc.body[start:]); err != nil {
				return err
			}
		}
		if _, err := rc.br.Discard(int(size - keep)); err != nil {
			return err
		}
		if crlf, err := rc.br.ReadSlice('\n'); err != nil || len(bytes.TrimRight(crlf, "\r\n")) != 0 {
			return errAnswer
		}
	}
}

// asciiEqualFold reports whether b equals s, ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

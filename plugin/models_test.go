package plugin

import (
	"bytes"
	"encoding/json"
	"sort"
	"testing"
	"time"
)

// referenceObject is how the JSON forms were written before AppendJSON:
// every key and value through encoding/json, extra keys sorted. AppendJSON
// must write the same bytes.
func referenceObject(t *testing.T, pairs []any, extra map[string]any) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteByte('{')
	value := func(v any) {
		switch x := v.(type) {
		case time.Time:
			v = FormatTime(x)
		case *time.Time:
			if x != nil {
				v = FormatTime(*x)
			}
		}
		q, err := json.Marshal(v)
		if err != nil {
			q = []byte("null")
		}
		b.Write(q)
	}
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(pairs[i])
		b.Write(k)
		b.WriteByte(':')
		value(pairs[i+1])
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q, _ := json.Marshal(k)
		b.WriteByte(',')
		b.Write(q)
		b.WriteByte(':')
		value(extra[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	tm := time.Date(2026, 12, 1, 12, 30, 45, 123456789, time.FixedZone("x", 3600))
	yes := true
	strange := []string{"", "plain", `quo"te`, `back\\slash`, "<script>&amp;</script>", "tab\tnew\nline\x01",
		"héllo wörld", "emoji 🎉", "line\u2028sep\u2029", "bad \xff utf-8", "del\x7f"}
	extras := []map[string]any{
		nil,
		{},
		{"role": "admin"},
		{"role": str("admin"), "banned": false, "banExpires": (*time.Time)(nil), "banReason": (*string)(nil),
			"twoFactorEnabled": &yes, "count": 3, "big": int64(1) << 60, "ratio": 0.5, "when": tm, "whenPtr": &tm,
			"list": []string{"a", "<b>"}, "obj": map[string]any{"z": 1, "a": "&"}, "raw": json.RawMessage(`{"x":"<y>"}`),
			"<key>": "v", "ünï": "c", "chan": make(chan int)},
	}
	n := 0
	for _, s := range strange {
		for _, ex := range extras {
			for _, img := range []*string{nil, str(s)} {
				u := &User{ID: "id-" + s, Name: s, Email: s + "@example.com", EmailVerified: len(s)%2 == 0, Image: img,
					CreatedAt: tm, UpdatedAt: tm.Add(time.Hour), Extra: ex}
				want := referenceObject(t, []any{"id", u.ID, "name", u.Name, "email", u.Email, "emailVerified", u.EmailVerified,
					"image", u.Image, "createdAt", u.CreatedAt, "updatedAt", u.UpdatedAt}, ex)
				if got := u.AppendJSON(nil); !bytes.Equal(got, want) {
					t.Fatalf("user:\n got %s\nwant %s", got, want)
				}
				se := &Session{ID: s, Token: "tok" + s, UserID: u.ID, ExpiresAt: tm, CreatedAt: tm, UpdatedAt: tm,
					IPAddress: img, UserAgent: str(s), Extra: ex}
				wantS := referenceObject(t, []any{"id", se.ID, "expiresAt", se.ExpiresAt, "token", se.Token, "createdAt", se.CreatedAt,
					"updatedAt", se.UpdatedAt, "ipAddress", se.IPAddress, "userAgent", se.UserAgent, "userId", se.UserID}, ex)
				if got := se.AppendJSON(nil); !bytes.Equal(got, wantS) {
					t.Fatalf("session:\n got %s\nwant %s", got, wantS)
				}
				// Through encoding/json (MarshalJSON, compacted and
				// HTML-escaped by it) and through AppendJSON: the same.
				sd := &SessionData{Session: se, User: u}
				viaJSON, err := json.Marshal(sd)
				if err != nil {
					t.Fatal(err)
				}
				if got := sd.AppendJSON(nil); !bytes.Equal(got, viaJSON) {
					t.Fatalf("session data:\n got %s\nwant %s", got, viaJSON)
				}
				n++
			}
		}
	}
	for _, sd := range []*SessionData{{}, {User: &User{ID: "u"}}, {Session: &Session{ID: "s"}}} {
		want, _ := json.Marshal(sd)
		if got := sd.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("nil members:\n got %s\nwant %s", got, want)
		}
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}

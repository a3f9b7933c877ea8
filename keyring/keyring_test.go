package keyring_test

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/managarten/mana-auth/keyring"
)

// rotationFixture is testdata/betterauth-rotation.json, written by
// tests/compat/gen-rotation.mjs with Better Auth 1.7.25.
type rotationFixture struct {
	Secrets struct{ S0, S1, S2 string } `json:"secrets"`
	Phases  map[string]struct {
		Secret  string     `json:"secret"`
		Secrets []baSecret `json:"secrets"`
	} `json:"phases"`
	Envelopes []struct {
		SealedBy  string `json:"sealedBy"`
		Plaintext string `json:"plaintext"`
		Sealed    string `json:"sealed"`
	} `json:"envelopes"`
	Failures []struct {
		Case    string     `json:"case"`
		Secret  string     `json:"secret"`
		Secrets []baSecret `json:"secrets"`
		Sealed  string     `json:"sealed"`
		Result  struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		} `json:"result"`
	} `json:"failures"`
	EnvCases []struct {
		Input   string     `json:"input"`
		OK      bool       `json:"ok"`
		Error   string     `json:"error"`
		Secrets []baSecret `json:"secrets"`
	} `json:"envCases"`
}

func loadRotationFixture(t *testing.T) *rotationFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/betterauth-rotation.json")
	if err != nil {
		t.Fatalf("reading fixture (regenerate with `node tests/compat/gen-rotation.mjs`): %v", err)
	}
	var f rotationFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Envelopes) == 0 || len(f.EnvCases) == 0 || len(f.Phases) != 3 {
		t.Fatal("rotation fixture is incomplete")
	}
	return &f
}

// baSecret is an entry of Better Auth's `secrets` option.
type baSecret struct {
	Version int    `json:"version"`
	Value   string `json:"value"`
}

func toVersions(in []baSecret) []keyring.Version {
	var out []keyring.Version
	for _, s := range in {
		out = append(out, keyring.Version{Version: s.Version, Value: s.Value})
	}
	return out
}

var envelopeRE = regexp.MustCompile(`^\$ba\$(\d+)\$([0-9a-f]{80,})$`)

// Envelopes sealed by Better Auth before and after each rotation open with
// the final configuration; Better Auth's failures are ours, with
// ErrSecretNotConfigured.
func TestKeyringBetterAuthEnvelopes(t *testing.T) {
	t.Parallel()
	f := loadRotationFixture(t)
	for phase, p := range f.Phases {
		// Our keyring for each phase seals what Better Auth's does.
		k := mustKeyring(t, p.Secret, toVersions(p.Secrets)...)
		sealed := k.Encrypt("x")
		if len(p.Secrets) == 0 {
			if strings.HasPrefix(sealed, "$") {
				t.Errorf("phase %s (no versions) sealed %q", phase, sealed)
			}
		} else if m := envelopeRE.FindStringSubmatch(sealed); m == nil || m[1] != itoa(p.Secrets[0].Version) {
			t.Errorf("phase %s sealed %q, want $ba$%d$<hex>", phase, sealed, p.Secrets[0].Version)
		}
	}
	c := f.Phases["C"]
	final := mustKeyring(t, c.Secret, toVersions(c.Secrets)...)
	for _, e := range f.Envelopes {
		if e.SealedBy != "A" && !envelopeRE.MatchString(e.Sealed) {
			t.Errorf("Better Auth's envelope of phase %s has an unexpected shape: %q", e.SealedBy, e.Sealed)
		}
		got, err := final.Decrypt(e.Sealed)
		if err != nil || got != e.Plaintext {
			t.Errorf("Decrypt(%s envelope %.20q…) = %q, %v; want %q", e.SealedBy, e.Sealed, got, err, e.Plaintext)
		}
		// And our envelopes of the same plaintext open in the same places.
		ours := mustKeyring(t, f.Phases[e.SealedBy].Secret, toVersions(f.Phases[e.SealedBy].Secrets)...).Encrypt(e.Plaintext)
		if got, err := final.Decrypt(ours); err != nil || got != e.Plaintext {
			t.Errorf("our %s envelope: %q, %v", e.SealedBy, got, err)
		}
	}
	for _, fc := range f.Failures {
		t.Run(fc.Case, func(t *testing.T) {
			t.Parallel()
			var k *keyring.Ring
			if fc.Secrets == nil {
				k = mustKeyring(t, fc.Secret)
			} else {
				k = mustKeyring(t, fc.Secret, toVersions(fc.Secrets)...)
			}
			got, err := k.Decrypt(fc.Sealed)
			if fc.Result.OK || got != "" || !errors.Is(err, keyring.ErrNotConfigured) || !errors.Is(err, keyring.ErrDecrypt) {
				t.Fatalf("Decrypt = %q, %v; want ErrSecretNotConfigured (Better Auth: %s)", got, err, fc.Result.Error)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// The spec's XChaCha vector (wire spec §7), wrapped in a version: Better
// Auth's symmetricDecrypt looks the version up and opens the hex with its
// secret, so "$ba$<v>$<vector>" opens under {v: secret} and nothing else.
func TestKeyringSpecVector(t *testing.T) {
	t.Parallel()
	const (
		secret = "0123456789abcdef0123456789abcdef-secret-xyz"
		hexCT  = "365f53a53103de006208cb65c28033fce9e0e2dba3c1fa1ef112de5cb41c3275597d9d92e33e5ca3cdbc83454e6f3ae7167ddf5e42a414"
		plain  = "hello-plaintext"
		other  = "another-secret-of-thirty-two-characters!!"
	)
	tests := []struct {
		name    string
		keys    *keyring.Ring
		sealed  string
		want    string
		wantErr error
	}{
		{"bare hex, single secret", mustKeyring(t, secret), hexCT, plain, nil},
		{"bare hex, legacy secret", mustKeyring(t, secret, keyring.Version{Version: 7, Value: other}), hexCT, plain, nil},
		{"version 7", mustKeyring(t, "", keyring.Version{Version: 7, Value: secret}), "$ba$7$" + hexCT, plain, nil},
		{"version 7, not current", mustKeyring(t, "", keyring.Version{Version: 8, Value: other}, keyring.Version{Version: 7, Value: secret}),
			"$ba$7$" + hexCT, plain, nil},
		{"version 0", mustKeyring(t, "", keyring.Version{Version: 0, Value: secret}), "$ba$0$" + hexCT, plain, nil},
		{"leading zeros are the same version", mustKeyring(t, "", keyring.Version{Version: 7, Value: secret}), "$ba$007$" + hexCT, plain, nil},
		{"version 7 under another secret", mustKeyring(t, "", keyring.Version{Version: 7, Value: other}), "$ba$7$" + hexCT, "", keyring.ErrDecrypt},
		{"version 7 not configured", mustKeyring(t, secret, keyring.Version{Version: 8, Value: other}), "$ba$7$" + hexCT, "", keyring.ErrNotConfigured},
		{"no versions configured", mustKeyring(t, secret), "$ba$7$" + hexCT, "", keyring.ErrNotConfigured},
		{"bare hex without legacy secret", mustKeyring(t, "", keyring.Version{Version: 7, Value: secret}), hexCT, "", keyring.ErrNotConfigured},
		{"not a version", mustKeyring(t, secret, keyring.Version{Version: 7, Value: secret}), "$ba$x7$" + hexCT, "", keyring.ErrDecrypt},
		{"no second $", mustKeyring(t, secret, keyring.Version{Version: 7, Value: secret}), "$ba$7" + hexCT, "", keyring.ErrDecrypt},
		{"empty", mustKeyring(t, secret, keyring.Version{Version: 7, Value: secret}), "", "", keyring.ErrDecrypt},
		{"envelope, empty hex", mustKeyring(t, secret, keyring.Version{Version: 7, Value: secret}), "$ba$7$", "", keyring.ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.keys.Decrypt(tt.sealed)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Decrypt = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// Data sealed before a rotation stays readable while its secret is
// configured, new data is sealed under the current version, and removing a
// secret makes its data fail with a clear error, never a panic.
func TestKeyringRotation(t *testing.T) {
	t.Parallel()
	s0 := strings.Repeat("0", 32)
	v1 := keyring.Version{Version: 1, Value: strings.Repeat("1", 32)}
	v2 := keyring.Version{Version: 2, Value: strings.Repeat("2", 32)}
	stages := []struct {
		name     string
		secret   string
		versions []keyring.Version
		prefix   string // of new envelopes
	}{
		{"single secret", s0, nil, ""},
		{"v1 added, s0 legacy", s0, []keyring.Version{v1}, "$ba$1$"},
		{"v2 current, v1 kept, s0 legacy", s0, []keyring.Version{v2, v1}, "$ba$2$"},
		{"s0 dropped", "", []keyring.Version{v2, v1}, "$ba$2$"},
		{"v1 dropped", "", []keyring.Version{v2}, "$ba$2$"},
	}
	// sealed[i] was sealed at stage i; readable[j][i] says whether stage j
	// still opens it.
	readable := [][]bool{
		{true},
		{true, true},
		{true, true, true},
		{false, true, true, true},
		{false, false, true, true, true},
	}
	var sealed []string
	for j, st := range stages {
		k := mustKeyring(t, st.secret, st.versions...)
		s := k.Encrypt("data of stage " + st.name)
		if !strings.HasPrefix(s, st.prefix) || (st.prefix == "" && strings.HasPrefix(s, "$")) {
			t.Errorf("%s: sealed %.12q…, want prefix %q", st.name, s, st.prefix)
		}
		sealed = append(sealed, s)
		var got []bool
		for i, s := range sealed {
			pt, err := k.Decrypt(s)
			ok := err == nil && pt == "data of stage "+stages[i].name
			if !ok && !errors.Is(err, keyring.ErrNotConfigured) {
				t.Errorf("%s opening stage %d: %v, want ErrSecretNotConfigured", st.name, i, err)
			}
			got = append(got, ok)
		}
		if d := cmp.Diff(readable[j], got); d != "" {
			t.Errorf("%s: readable (-want +got):\n%s", st.name, d)
		}
	}
	// The messages say what is missing.
	k := mustKeyring(t, "", v2)
	for _, tc := range []struct{ sealed, want string }{
		{sealed[1], "secret version 1, which is not configured"},
		{sealed[0], "legacy secret, which is not set"},
	} {
		if _, err := k.Decrypt(tc.sealed); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v does not say %q", err, tc.want)
		}
	}
	if _, err := mustKeyring(t, s0).Decrypt(sealed[2]); err == nil || !strings.Contains(err.Error(), "no versioned secrets are configured") {
		t.Errorf("versioned data under a single secret: %v", err)
	}
}

func TestKeyringAccessors(t *testing.T) {
	t.Parallel()
	s0 := strings.Repeat("0", 32)
	k := mustKeyring(t, s0,
		keyring.Version{Version: 5, Value: strings.Repeat("5", 32)},
		keyring.Version{Version: 9, Value: "short-retired"},
		keyring.Version{Version: 1, Value: strings.Repeat("1", 32)})
	v, versioned := k.CurrentVersion()
	legacy, hasLegacy := k.Legacy()
	nine, hasNine := k.Version(9)
	_, hasTwo := k.Version(2)
	got := map[string]any{
		"current": k.Current(), "version": v, "versioned": versioned, "versions": k.Versions(),
		"legacy": legacy, "hasLegacy": hasLegacy, "nine": nine, "hasNine": hasNine, "hasTwo": hasTwo,
	}
	want := map[string]any{
		"current": strings.Repeat("5", 32), "version": 5, "versioned": true, "versions": []int{5, 1, 9},
		"legacy": s0, "hasLegacy": true, "nine": "short-retired", "hasNine": true, "hasTwo": false,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("versioned keyring (-want +got):\n%s", d)
	}
	single := mustKeyring(t, s0)
	if v, ok := single.CurrentVersion(); ok || v != 0 || single.Current() != s0 || single.Versions() != nil {
		t.Errorf("single keyring: version %d %v, current %q, versions %v", v, ok, single.Current(), single.Versions())
	}
	if l, ok := single.Legacy(); !ok || l != s0 {
		t.Errorf("single keyring legacy = %q, %v", l, ok)
	}
	if _, ok := mustKeyring(t, "", keyring.Version{Version: 1, Value: s0}).Legacy(); ok {
		t.Error("keyring without Secret reports a legacy secret")
	}
}

// ParseSecrets agrees with Better Auth's parseSecretsEnv +
// validateSecretsArray on every input of the fixture, except where it is
// deliberately stricter.
func TestParseSecretsBetterAuthCases(t *testing.T) {
	t.Parallel()
	f := loadRotationFixture(t)
	stricter := map[string]string{
		"2:short":                 "current secret and must be at least 32", // Better Auth only warns
		"2abc:" + f.Secrets.S2:    "version before ':' must be",             // parseInt("2abc") is 2
		"+2:" + f.Secrets.S2:      "version before ':' must be",             // parseInt("+2") is 2
		"2:" + f.Secrets.S2 + ",": "entry 2 is not of the form",             // same as Better Auth, listed for the message
	}
	for _, c := range f.EnvCases {
		got, err := keyring.Parse(c.Input)
		if want, ok := stricter[c.Input]; ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ParseSecrets(%q) = %v, %v; want an error containing %q", c.Input, got, err, want)
			}
			continue
		}
		if !c.OK {
			if err == nil {
				t.Errorf("ParseSecrets(%q) = %v; Better Auth refuses it: %s", c.Input, got, c.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSecrets(%q): %v; Better Auth accepts it", c.Input, err)
			continue
		}
		if d := cmp.Diff(toVersions(c.Secrets), got); d != "" {
			t.Errorf("ParseSecrets(%q) (-Better Auth +ours):\n%s", c.Input, d)
		}
	}
}

func TestParseSecrets(t *testing.T) {
	t.Parallel()
	s2, s1 := "secret-two-"+strings.Repeat("2", 32), "secret-one-"+strings.Repeat("1", 32)
	tests := []struct {
		name, in string
		want     []keyring.Version
		wantErr  string
	}{
		{"empty means none", "", nil, ""},
		{"two", "2:" + s2 + ",1:" + s1, []keyring.Version{{2, s2}, {1, s1}}, ""},
		{"spaces trimmed", "  2 :  " + s2 + " ,\t1:" + s1 + "\n", []keyring.Version{{2, s2}, {1, s1}}, ""},
		{"colon in value", "7:" + s2 + ":x", []keyring.Version{{7, s2 + ":x"}}, ""},
		{"version 0 and gaps", "0:" + s2 + ",9:x", []keyring.Version{{0, s2}, {9, "x"}}, ""},
		{"max version", "9007199254740991:" + s2, []keyring.Version{{1<<53 - 1, s2}}, ""},
		{"no colon", s2, nil, "secrets entry 1 is not of the form <version>:<secret>"},
		{"only spaces", " ", nil, "secrets entry 1 is not of the form"},
		{"trailing comma", "2:" + s2 + ",", nil, "secrets entry 2 is not of the form"},
		{"empty entry", "2:" + s2 + ",,1:" + s1, nil, "secrets entry 2 is not of the form"},
		{"missing version", ":" + s2, nil, "secrets entry 1: the version before ':' must be an integer"},
		{"negative version", "2:" + s2 + ",-1:" + s1, nil, "secrets entry 2: the version before ':' must be an integer"},
		{"word version", "v2:" + s2, nil, "secrets entry 1: the version before ':' must be an integer"},
		{"version too large", "9007199254740992:" + s2, nil, "secrets entry 1: the version before ':' must be an integer from 0 to 2^53-1"},
		{"empty secret", "2:" + s2 + ",1:  ", nil, "secrets entry 2 (version 1): empty secret"},
		{"duplicate", "2:" + s2 + ",2:" + s1, nil, "secrets entry 2: version 2 appears twice"},
		{"short current", "2:short-value,1:" + s1, nil, "secrets entry 1 (version 2) is the current secret and must be at least 32 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := keyring.Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || got != nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSecrets = %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				for _, s := range []string{s1, s2, "short-value"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error quotes a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseSecrets (-want +got):\n%s", d)
			}
		})
	}
}

// hs256 signs claims as Better Auth's signJWT does (for email-verification
// tokens).

func mustKeyring(t *testing.T, secret string, versions ...keyring.Version) *keyring.Ring {
	t.Helper()
	k, err := keyring.New(secret, versions)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

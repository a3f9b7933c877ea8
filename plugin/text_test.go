package plugin_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/plugin"
)

// TestValidEmail: addresses with invisible, bidi, control or space
// characters anywhere are refused, so that no account can look like
// another; so is everything else Better Auth's z.email() refuses.
func TestValidEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		email string
		want  bool
	}{
		{"ada@example.com", true},
		{"Ada.Lovelace@Example.COM", true},
		{"ada+tag@example.co.uk", true},
		{"o'brien@example.ie", true},
		{"a_b-c@mail.example-host.com", true},
		{"-x@example.com", true},
		{"x@xn--mller-kva.de", true}, // an IDN domain in its ASCII form
		{"x@123.example.com", true},

		// The audit's look-alikes.
		{"x@example.com\u200b", false}, // zero-width space
		{"x\u200d@example.com", false}, // zero-width joiner
		{"x\u202e@example.com", false}, // right-to-left override
		// Other format characters (Cf).
		{"x\u200c@example.com", false},     // zero-width non-joiner
		{"x\u200e@example.com", false},     // left-to-right mark
		{"x@exam\u2066ple.com", false},     // left-to-right isolate
		{"\ufeffx@example.com", false},     // byte order mark
		{"x\u00ad@example.com", false},     // soft hyphen
		{"x\u2060@example.com", false},     // word joiner
		{"x\u061c@example.com", false},     // Arabic letter mark
		{"x\U000E0041@example.com", false}, // tag character
		{"x@example.com\U000E007F", false}, // cancel tag
		{"x\u180e@example.com", false},     // Mongolian vowel separator
		{"x@e\ufff9xample.com", false},     // interlinear annotation
		{"x\u034f@example.com", false},     // combining grapheme joiner (default ignorable)
		{"x\ufe0f@example.com", false},     // variation selector
		{"x\u3164@example.com", false},     // Hangul filler (default ignorable)
		{"x\U000E0100@example.com", false}, // variation selector supplement
		{"x\u115f@example.com", false},     // Hangul choseong filler
		{"x\u00a0y@example.com", false},    // no-break space
		{"x@example.com\u2028", false},     // line separator
		{"x\u2029@example.com", false},     // paragraph separator
		{"x\u3000@example.com", false},     // ideographic space
		{"x\u1680@example.com", false},     // Ogham space mark
		{"x\u205f@example.com", false},     // medium mathematical space
		{"x\u0085@example.com", false},     // next line (C1)
		{"x\x00@example.com", false},       // NUL
		{"x\x7f@example.com", false},       // DEL
		{"x\t@example.com", false},         // tab
		{"x y@example.com", false},         // space
		{"\u0430da@example.com", false},    // Cyrillic а, a homoglyph of "ada"
		{"ada@ex\u0430mple.com", false},    // Cyrillic а in the domain
		{"x@example\u3002com", false},      // ideographic full stop
		{"zo\u00eb@example.com", false},    // Better Auth refuses every non-ASCII address
		{"x@m\u00fcller.de", false},        // an IDN domain in its Unicode form
		{"x\xff@example.com", false},       // invalid UTF-8
		{"a!b@example.com", false},         // z.email() allows only _ ' + - besides letters and digits
		{"a#b@example.com", false},         //
		{"x'@example.com", false},          // the local part must not end with '
		{"x@example.c0m", false},           // the top-level domain is letters
		{"x@example.c", false},             // of at least two
		{"x@localhost", false},             // the domain is dotted
		{".x@example.com", false},          //
		{"x.@example.com", false},          //
		{"x..y@example.com", false},        //
		{"x@-example.com", false},          //
		{"x@example-.com", false},          //
		{"x@example..com", false},          //
		{"x@@example.com", false},          //
		{"x@y@example.com", false},         //
		{"Ada <ada@example.com>", false},   //
		{"", false},                        //
		{"@example.com", false},            //
		{strings.Repeat("x", 65) + "@example.com", false},
		{"x@" + strings.Repeat("y", 64) + ".com", false},
		{strings.Repeat("x", 64) + "@" + strings.Repeat(strings.Repeat("y", 60)+".", 3) + "example.com", false}, // 255 bytes
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+q", tt.email), func(t *testing.T) {
			t.Parallel()
			if got := plugin.ValidEmail(tt.email); got != tt.want {
				t.Errorf("ValidEmail(%+q) = %v, want %v", tt.email, got, tt.want)
			}
		})
	}
}

// TestCheckName: names refuse control characters and every invisible
// character that can disguise text (bidi controls, zero-width spaces, …),
// and keep what real names need (any script, emoji with their joiners and
// variation selectors, the zero-width non-joiner of Persian).
func TestCheckName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"Ada Lovelace", true},
		{"Zoë Ñandú 李小龍 🦀 عربي", true},
		{"👩\u200d💻", true},                                         // zero-width joiner in an emoji sequence
		{"\u2764\ufe0f", true},                                     // variation selector 16: ❤️
		{"\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", true}, // Persian with a zero-width non-joiner
		{"", true},                       // Better Auth allows an empty name
		{"Ada\u00a0Lovelace", true},      // a no-break space is visible as a space
		{strings.Repeat("n", 256), true}, //

		{"Ada\u202e", false}, // right-to-left override
		{"Ada \u202egro.elpmaxe\u202c", false},
		{"\u2066Ada\u2069", false},        // isolates
		{"Ada\u200e", false},              // left-to-right mark
		{"Ada\u200f", false},              // right-to-left mark
		{"Ada\u061c", false},              // Arabic letter mark
		{"Ada\u200b", false},              // zero-width space
		{"Ada\u2060", false},              // word joiner
		{"\ufeffAda", false},              // byte order mark
		{"Ada\u00ad", false},              // soft hyphen
		{"Ada\U000E0041", false},          // tag character (hidden ASCII)
		{"\u3164", false},                 // Hangul filler: a blank-looking name
		{"Ada\u2028Lovelace", false},      // line separator
		{"Ada\u2029", false},              // paragraph separator
		{"Ada\nLovelace", false},          //
		{"Ada\x00", false},                //
		{"Ada\u0085", false},              // next line (C1)
		{"Ada\xff", false},                // invalid UTF-8
		{"Ada\ufffd", false},              //
		{strings.Repeat("n", 257), false}, //
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+q", tt.name), func(t *testing.T) {
			t.Parallel()
			err := plugin.CheckName(tt.name)
			if tt.ok && err != nil {
				t.Errorf("CheckName(%+q) = %v, want nil", tt.name, err)
			}
			if !tt.ok && err != plugin.ErrInvalidName {
				t.Errorf("CheckName(%+q) = %v, want ErrInvalidName", tt.name, err)
			}
		})
	}
}

package otp_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin/otp"
	"github.com/managarten/mana-auth/storage/memory"
)

// A plugin issues a code, mails it, and checks what the user types.
func Example() {
	a, err := auth.New(auth.Config{BaseURL: "http://localhost:3000", Secret: "a-secret-of-at-least-32-characters!",
		Logger: slog.New(slog.DiscardHandler)}, memory.New())
	if err != nil {
		panic(err)
	}
	h, ctx := a.Host(), context.Background()
	o := otp.Options{Storage: otp.Encrypted, AllowedAttempts: 3}

	code, err := otp.Issue(ctx, h, "sign-in-otp-ada@example.com", o)
	if err != nil {
		panic(err)
	}
	// … mail the code …
	_, err = otp.Verify(ctx, h, "sign-in-otp-ada@example.com", "not the code", o)
	fmt.Println(errors.Is(err, otp.ErrMismatch))
	_, err = otp.Verify(ctx, h, "sign-in-otp-ada@example.com", code, o)
	fmt.Println(err)
	_, err = otp.Verify(ctx, h, "sign-in-otp-ada@example.com", code, o)
	fmt.Println(errors.Is(err, otp.ErrNotFound))
	// Output:
	// true
	// <nil>
	// true
}

package mail_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/mail"
)

func TestRecorder(t *testing.T) {
	t.Parallel()
	var r mail.Recorder
	ctx := context.Background()
	a := auth.Email{To: "a@example.com", URL: "https://app.example/verify?token=t"}
	if err := r.SendEmail(ctx, a); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("smtp down")
	r.SetErr(boom)
	if err := r.SendEmail(ctx, auth.Email{To: "b@example.com"}); !errors.Is(err, boom) {
		t.Fatalf("SendEmail after SetErr: %v", err)
	}
	r.SetErr(nil)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { _ = r.SendEmail(ctx, auth.Email{To: "c@example.com"}) })
	}
	wg.Wait()
	got := r.Sent()
	if len(got) != 11 || !cmp.Equal(got[0], a) {
		t.Fatalf("Sent() = %d emails, first %+v; want 11, first %+v", len(got), got[0], a)
	}
	got[0].To = "changed"
	if r.Sent()[0].To != "a@example.com" {
		t.Fatal("Sent does not return a copy")
	}
}

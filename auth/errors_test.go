package auth_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// errors.Is matches an *auth.Error by its code, whatever status, message or
// cause a copy carries; code-less errors match on status and message.
func TestErrorIs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"itself", auth.ErrInvalidPassword, auth.ErrInvalidPassword, true},
		{"a copy with a cause", auth.ErrInvalidPassword.With(errors.New("x")), auth.ErrInvalidPassword, true},
		{"a copy with another message", plugin.ErrValidation.WithMessage("[body.x] bad"), plugin.ErrValidation, true},
		{"the same code with another status", plugin.NewError(http.StatusUnauthorized, "INVALID_TOKEN", "Invalid token"), auth.ErrInvalidToken, true},
		{"wrapped", fmt.Errorf("wrapped: %w", auth.ErrUserNotFound), auth.ErrUserNotFound, true},
		{"another code", auth.ErrInvalidPassword, auth.ErrInvalidEmailOrPassword, false},
		{"a code-less error, retried", auth.ErrTooManyRequests.WithRetryAfter(time.Minute), auth.ErrTooManyRequests, true},
		{"a code-less error with another message", plugin.NewError(http.StatusTooManyRequests, "", "slow down"), auth.ErrTooManyRequests, false},
		{"a coded error against a code-less one", plugin.NewError(http.StatusBadRequest, "X", "No fields to update"), auth.ErrNoFieldsToUpdate, false},
		{"not an auth error", errors.New("INVALID_PASSWORD"), auth.ErrInvalidPassword, false},
	} {
		if got := errors.Is(tc.err, tc.target); got != tc.want {
			t.Errorf("%s: errors.Is = %v, want %v", tc.name, got, tc.want)
		}
	}
}

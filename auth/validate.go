package auth

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/managarten/mana-auth/plugin"
)

// validateBody checks body against params. bodyPresent distinguishes an
// absent body from an empty object.
func validateBody(body any, present bool, params []plugin.Param, additional bool) error {
	if len(params) == 0 {
		return nil
	}
	obj, ok := body.(map[string]any)
	if !ok {
		allOptional := true
		for _, p := range params {
			allOptional = allOptional && p.Optional
		}
		if !present && allOptional {
			return nil
		}
		got := "undefined"
		if present {
			got = plugin.JSONKind(body)
		}
		msg := "[body] Invalid input: expected object, received " + got
		if additional {
			msg += "; [body] Invalid input: expected record, received " + got
		}
		return plugin.ErrValidation.WithMessage(msg)
	}
	var issues []string
	for _, p := range params {
		v, ok := obj[p.Name]
		if !ok || v == nil && p.Optional {
			if !p.Optional {
				issues = append(issues, fmt.Sprintf("[body.%s] Invalid input: expected %s, received undefined", p.Name, p.Kind))
			}
			continue
		}
		got := plugin.JSONKind(v)
		want := p.Kind.String()
		if p.Kind != plugin.KindAny && got != want {
			issues = append(issues, fmt.Sprintf("[body.%s] Invalid input: expected %s, received %s", p.Name, want, got))
			continue
		}
		if p.Kind == plugin.KindEmail && !plugin.ValidEmail(strings.TrimSpace(v.(string))) {
			issues = append(issues, fmt.Sprintf("[body.%s] Invalid email address", p.Name))
		}
	}
	if len(issues) > 0 {
		return plugin.ErrValidation.WithMessage(strings.Join(issues, "; "))
	}
	return nil
}

func checkImage(img *string) error {
	if img == nil {
		return nil
	}
	if len(*img) > 2048 {
		return ErrInvalidImage
	}
	for _, r := range *img {
		if unicode.IsControl(r) {
			return ErrInvalidImage
		}
	}
	return nil
}

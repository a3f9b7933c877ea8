//go:build race

package auth_test

// raceEnabled is true under -race, where scrypt is ~10x slower; the
// password-vector tests then compute fewer hashes (the skipped ones are
// proved equivalent by NFKC normalisation, see password_test.go).
const raceEnabled = true

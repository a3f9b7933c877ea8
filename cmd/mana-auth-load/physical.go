package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/managarten/mana-auth/auth"
)

// rawScrypt is one password hash exactly as the server computes it:
// auth.ScryptHasher (Better Auth's parameters N=16384, r=16, p=1, keyLen
// 64, a fresh salt, its buffers reused as in the server). The limit is then
// the machine's rate for the very work a sign-in must do, not that of
// another implementation (golang.org/x/crypto/scrypt allocates 32 MiB per
// call, which costs GC work a tight loop hides).
func rawScrypt() error {
	_, err := auth.ScryptHasher{}.Hash("calibration-password-1")
	return err
}

// jwtLikeMessage is a signing input the size of the server's access
// tokens (base64url header "." base64url claims, ~330 bytes).
func jwtLikeMessage() []byte {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","kid":"k3Yb8V2Qm0sXy1ZcP4rT7uWnA9eLdH6f"}`))
	c := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"Zq3m8Yt1Xw7Ub2Vn5Rk9Lp4Hs6Jd0Fa","email":"load-000000-0@example.com","role":"user","sid":"Pn2Kb7Wq4Xr9Ty1Uz6Vm3Lc8Hd5Js0G","iat":1760000000,"exp":1760000900,"iss":"http://127.0.0.1:3001","aud":"mana"}`))
	return []byte(h + "." + c)
}

// calibRounds is how many rounds each calibration loop is split into.
const calibRounds = 5

// calibrate measures the raw single-core rates of ed25519 sign and verify
// and of scrypt with Better Auth's parameters, each in a short fixed loop
// on one locked OS thread. The rates are per CPU-second of that thread
// (CLOCK_THREAD_CPUTIME_ID), so other load on the machine does not lower
// them; the wall-clock rates are kept beside them (equal on an idle
// machine). Each figure is the best of calibRounds rounds.
//
// With cpus (a taskset list: --server-cpus) the thread runs on the first
// of them, the CPU the server will have: vCPUs of one guest can differ in
// speed (their hosts' other load), and the limit is that of the server's.
func calibrate(signN, verifyN, scryptRuns int, cpus string) (Physical, error) {
	var p Physical
	var err error
	done := make(chan struct{})
	go func() {
		// The goroutine ends locked to its thread, so a pinned thread is
		// not handed back to the scheduler.
		defer close(done)
		runtime.LockOSThread()
		if cpus != "" {
			list, perr := cpuList(cpus)
			if perr == nil {
				perr = pinThread(list[:1])
			}
			if perr != nil {
				err = fmt.Errorf("pinning the calibration to CPU %s: %w", cpus, perr)
				return
			}
		}
		p = calibrateHere(signN, verifyN, scryptRuns)
		if cpus != "" {
			list, _ := cpuList(cpus)
			p.CPUs = strconv.Itoa(list[0])
		}
	}()
	<-done
	return p, err
}

// calibrateHere is calibrate on the calling goroutine's locked thread.
func calibrateHere(signN, verifyN, scryptRuns int) Physical {
	seed := sha256.Sum256([]byte("mana-auth-load calibration"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	msg := jwtLikeMessage()
	p := Physical{SignN: signN, VerifyN: verifyN, ScryptN: scryptRuns}

	// One warm-up of each so first-use costs are not measured.
	sig := ed25519.Sign(priv, msg)
	ed25519.Verify(pub, msg, sig)

	// Each loop runs in calibRounds rounds and keeps the best round: the
	// limit is what a core does when nothing disturbs it.
	loop := func(n int, op func()) (perCPU, perWall float64) {
		rounds := min(calibRounds, n)
		per := n / rounds
		for r := 0; r < rounds; r++ {
			c0, okc := threadCPU()
			t0 := time.Now()
			for i := 0; i < per; i++ {
				op()
			}
			wall := time.Since(t0)
			c1, okc1 := threadCPU()
			w := 0.0
			if wall > 0 {
				w = float64(per) / wall.Seconds()
			}
			c := w
			if okc && okc1 && c1 > c0 {
				c = float64(per) / (c1 - c0).Seconds()
			}
			perCPU, perWall = max(perCPU, c), max(perWall, w)
		}
		return perCPU, perWall
	}
	p.SignPerSec, p.SignWallPerSec = loop(signN, func() { sig = ed25519.Sign(priv, msg) })
	ok := true
	p.VerifyPerSec, p.VerifyWallPerSec = loop(verifyN, func() { ok = ed25519.Verify(pub, msg, sig) && ok })
	if !ok {
		p.VerifyPerSec, p.VerifyWallPerSec = 0, 0
	}
	var err error
	p.ScryptPerSec, p.ScryptWallPerSec = loop(scryptRuns, func() {
		if e := rawScrypt(); e != nil {
			err = e
		}
	})
	if err != nil {
		p.ScryptPerSec, p.ScryptWallPerSec = 0, 0
	}
	return p
}

// calibrateParallel runs the same loops on workers goroutines at once
// (each its share of the iterations) and returns the aggregate rates: how
// well the machine's cores really add up (vCPUs may share a physical core).
func calibrateParallel(workers, signN, verifyN, scryptRuns int) Physical {
	if workers < 1 {
		workers = 1
	}
	var all Physical
	measure := func(total int, op func()) float64 {
		per := max(total/workers, 1)
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				for i := 0; i < per; i++ {
					op()
				}
			}()
		}
		wg.Wait()
		return float64(per*workers) / time.Since(start).Seconds()
	}
	seed := sha256.Sum256([]byte("mana-auth-load calibration"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	msg := jwtLikeMessage()
	sig := ed25519.Sign(priv, msg)
	all.SignPerSec = measure(signN, func() { ed25519.Sign(priv, msg) })
	all.VerifyPerSec = measure(verifyN, func() { ed25519.Verify(pub, msg, sig) })
	all.ScryptPerSec = measure(scryptRuns, func() { _ = rawScrypt() })
	all.SignN, all.VerifyN, all.ScryptN = signN, verifyN, scryptRuns
	return all
}

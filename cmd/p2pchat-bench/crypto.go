package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// crypto times the primitives a message costs, inline, and (with -gotest)
// runs the benchmarks of the packages that own p2pchat's crypto:
// room/internal/wire (seal+sign, verify+open, ratchet step, epoch
// derivation) and room/internal/cpace. Those packages are internal to room,
// so this command cannot call them directly.
func (b *bench) crypto(ctx context.Context) error {
	t := &table{title: fmt.Sprintf("crypto micro-benchmarks, one core, %d-byte message", b.cfg.size), head: []string{"operation", "µs", "source"}}
	for _, p := range b.primitives() {
		b.res.set(p.key, p.us)
		t.add(p.what, num(p.us), "inline")
	}
	if b.cfg.goBench {
		if err := b.goTestBench(ctx, t); err != nil {
			if ctx.Err() != nil {
				return err
			}
			b.fail("crypto: go test -bench", err)
		}
	} else {
		t.note("go test -bench skipped (-gotest=false); run: go test -run '^$' -bench . ./room/internal/wire ./room/internal/cpace")
	}
	t.note("receive cost is dominated by signature verification; seal/open are the AEAD alone, ratchet one HMAC-SHA256 chain step (two HMACs).")
	b.emit(t)
	return nil
}

type primitive struct {
	key, what string
	us        float64
}

// primitives times each primitive over cryptoIter runs.
func (b *bench) primitives() []primitive {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub := priv.Public().(ed25519.PublicKey)
	// What is signed and sealed: label, 81-byte header, body with the text.
	msg := make([]byte, 160+b.cfg.size)
	rand.Read(msg)
	sig := ed25519.Sign(priv, msg)
	var key [32]byte
	rand.Read(key[:])
	aead, _ := chacha20poly1305.NewX(key[:])
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	sealed := aead.Seal(nil, nonce, msg, nil)
	ck := key

	iter := b.cfg.cryptoIter
	timeIt := func(f func()) float64 {
		f() // warm
		t0 := time.Now()
		for range iter {
			f()
		}
		return float64(time.Since(t0).Nanoseconds()) / float64(iter) / 1000
	}
	return []primitive{
		{"crypto_sign_us", "Ed25519 sign", timeIt(func() { ed25519.Sign(priv, msg) })},
		{"crypto_verify_us", "Ed25519 verify", timeIt(func() { ed25519.Verify(pub, msg, sig) })},
		{"crypto_seal_us", "XChaCha20-Poly1305 seal", timeIt(func() { aead.Seal(nil, nonce, msg, nil) })},
		{"crypto_open_us", "XChaCha20-Poly1305 open", timeIt(func() { aead.Open(nil, nonce, sealed, nil) })},
		{"crypto_ratchet_us", "hash ratchet step (2 × HMAC-SHA256)", timeIt(func() {
			mk := hmac.New(sha256.New, ck[:])
			mk.Write([]byte{1})
			mk.Sum(nil)
			next := hmac.New(sha256.New, ck[:])
			next.Write([]byte{2})
			copy(ck[:], next.Sum(nil))
		})},
	}
}

// goBenchKeys maps the owning packages' benchmarks to JSON keys.
var goBenchKeys = map[string]struct{ key, what string }{
	"SealSign":    {"crypto_wire_seal_sign_us", "wire.Seal: ratchet + sign + encrypt"},
	"VerifyOpen":  {"crypto_wire_verify_open_us", "wire.Open: ratchet + decrypt + verify"},
	"RatchetStep": {"crypto_wire_ratchet_us", "wire ratchet step"},
	"NewEpoch/10": {"crypto_wire_new_epoch_n10_us", "wire.NewEpoch, roster of 10 (each rekey)"},
	"NewEpoch/50": {"crypto_wire_new_epoch_n50_us", "wire.NewEpoch, roster of 50 (each rekey)"},
	"CPace":       {"crypto_cpace_us", "CPace exchange, both sides (each admission)"},
}

var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op`)

func (b *bench) goTestBench(ctx context.Context, t *table) error {
	b.logf("crypto: go test -bench in room/internal/wire and room/internal/cpace")
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", ".", "-benchtime", b.cfg.benchTime,
		"github.com/p2pchat/p2pchat/room/internal/wire", "github.com/p2pchat/p2pchat/room/internal/cpace")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench (or pass -gotest=false): %w\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		k, ok := goBenchKeys[m[1]]
		if !ok {
			continue
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		b.res.set(k.key, ns/1000)
		t.add(k.what, num(ns/1000), "go test -bench")
	}
	return nil
}

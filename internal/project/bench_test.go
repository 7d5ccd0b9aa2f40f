package project

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// BenchmarkInitAllModules measures Init of every module with the real
// catalog and generators: secret generation (bcrypt included) and file
// writes. Lago's RSA key is made by the stack on first boot, not here.
func BenchmarkInitAllModules(b *testing.B) {
	cat := catalog.Default()
	all := cat.InLayers(catalog.Layers()...)
	base := b.TempDir()
	i := 0
	for b.Loop() {
		i++
		dir := filepath.Join(base, strconv.Itoa(i))
		if _, _, err := Init(dir, cat, InitOptions{Modules: all, Domain: "example.com", Email: "a@b.co"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRegenerateAllModules measures env --regen of an all-module
// project: no new secrets, bcrypt verification of the basic-auth hash.
func BenchmarkRegenerateAllModules(b *testing.B) {
	cat := catalog.Default()
	p, _, err := Init(filepath.Join(b.TempDir(), "p"), cat, InitOptions{Modules: cat.InLayers(catalog.Layers()...), Domain: "example.com", Email: "a@b.co"})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Regenerate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEnv measures parsing an all-module .env.
func BenchmarkParseEnv(b *testing.B) {
	cat := catalog.Default()
	p, _, err := Init(filepath.Join(b.TempDir(), "p"), cat, InitOptions{Modules: cat.InLayers(catalog.Layers()...), Domain: "example.com", Email: "a@b.co"})
	if err != nil {
		b.Fatal(err)
	}
	f, err := p.ReadEnv()
	if err != nil {
		b.Fatal(err)
	}
	data := f.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseEnv(data); err != nil {
			b.Fatal(err)
		}
	}
}

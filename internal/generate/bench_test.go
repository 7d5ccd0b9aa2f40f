package generate

import (
	"testing"

	"github.com/fast-saas/fast-saas/internal/catalog"
)

// BenchmarkProject generates every file of the all-modules stack (the work
// of `init --yes` after secrets are generated).
func BenchmarkProject(b *testing.B) {
	c := catalog.Default()
	in := realInput(b, c, c.InLayers(catalog.Layers()...), "example.com")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Project(in); err != nil {
			b.Fatal(err)
		}
		_ = DotEnv(in)
	}
}

// BenchmarkResolveAll resolves the full catalog (the `catalog` command's
// work besides printing).
func BenchmarkResolveAll(b *testing.B) {
	c := catalog.Default()
	ids := c.InLayers(catalog.Layers()...)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Resolve(ids); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDefaultCatalog builds and validates the catalog.
func BenchmarkDefaultCatalog(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = catalog.Default()
	}
}

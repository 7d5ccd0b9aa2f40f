package project

import (
	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/generate"
)

// EnvKey, File and GenInput are the generate package's types: the project
// lifecycle only orchestrates, the generators own the file formats.
type (
	EnvKey   = generate.EnvKey
	File     = generate.File
	GenInput = generate.Input
)

// Generator renders a project. The production one is the generate package;
// tests substitute a small fake so lifecycle tests do not depend on the
// real catalog's contents.
type Generator interface {
	// EnvKeys lists every .env key of the selection in output order.
	EnvKeys(mods []catalog.Module) []EnvKey
	// Values returns the value of every key of EnvKeys for in: in.Env's
	// value where the generator keeps it, else a computed or default one.
	Values(in GenInput) map[string]string
	// Files renders every file but .env, plus the body of a fresh .env
	// (used only when the project has none yet).
	Files(in GenInput) (files []File, dotEnv []byte, err error)
}

func (p *Project) gen() Generator {
	if p.Generate != nil {
		return p.Generate
	}
	return packageGenerator{}
}

func (p *Project) input(mods []catalog.Module, env map[string]string) GenInput {
	return GenInput{
		Catalog:     p.Catalog,
		Modules:     mods,
		Domain:      p.Manifest.Domain,
		Email:       p.Manifest.Email,
		Env:         env,
		Version:     p.Version,
		GPU:         p.Manifest.Options.GPU,
		NoBasicAuth: p.Manifest.Options.NoBasicAuth,
	}
}

// packageGenerator adapts the generate package to Generator.
type packageGenerator struct{}

func (packageGenerator) EnvKeys(mods []catalog.Module) []EnvKey { return generate.EnvKeys(mods) }

func (packageGenerator) Values(in GenInput) map[string]string { return generate.EnvValues(in) }

func (packageGenerator) Files(in GenInput) ([]File, []byte, error) {
	files, err := generate.Project(in)
	if err != nil {
		return nil, nil, err
	}
	hasExample := false
	for _, f := range files {
		hasExample = hasExample || f.Path == EnvExampleFileName
	}
	if !hasExample {
		files = append(files, File{Path: EnvExampleFileName, Mode: 0o644, Data: generate.EnvExample(in.Modules)})
	}
	return files, generate.DotEnv(in), nil
}

// catalogEnvKeys lists every secret and setting of mods once, in order: the
// keys straight from the module definitions, without stack-wide ones.
func catalogEnvKeys(mods []catalog.Module) []EnvKey {
	seen := make(map[string]bool)
	var keys []EnvKey
	for _, m := range mods {
		for _, s := range m.Secrets {
			if seen[s.Key] {
				continue
			}
			seen[s.Key] = true
			s := s
			keys = append(keys, EnvKey{Key: s.Key, Secret: &s, Comment: s.Description, Module: m.ID})
		}
		for _, s := range m.Settings {
			if seen[s.Key] {
				continue
			}
			seen[s.Key] = true
			keys = append(keys, EnvKey{Key: s.Key, Default: s.Default, Comment: s.Description, Module: m.ID, Required: s.Required})
		}
	}
	return keys
}

package project

import (
	"fmt"
	"strings"
)

// EnvProblem is one thing wrong with .env for the current selection.
type EnvProblem struct {
	Key     string `json:"key"`
	Module  string `json:"module,omitempty"`
	Problem string `json:"problem"`
}

// CheckEnv validates .env against the selection: every key present, every
// secret in its format and neither a placeholder nor weak, every required
// setting non-empty, COMPOSE_PROFILES matching the selected layers. A
// FirstBoot secret (made by the stack) may be missing or empty; a value that
// is set is checked like any other secret. It
// returns the problems in .env key order; none means the file is good.
func (p *Project) CheckEnv() ([]EnvProblem, error) {
	res, err := p.Resolve()
	if err != nil {
		return nil, err
	}
	f, err := p.ReadEnv()
	if err != nil {
		return nil, err
	}
	env := f.Map()
	g := p.gen()
	want := g.Values(p.input(res.Modules, env))
	want[ComposeProfilesKey] = strings.Join(Profiles(res.Modules), ",")
	var problems []EnvProblem
	profilesChecked := false
	for _, k := range g.EnvKeys(res.Modules) {
		profilesChecked = profilesChecked || k.Key == ComposeProfilesKey
		v, ok := env[k.Key]
		switch {
		case k.Secret != nil && k.Secret.FirstBoot && v == "":
			// Made by the stack on first boot: checked only when set.
		case !ok:
			problems = append(problems, EnvProblem{k.Key, k.Module, "missing (run `fast-saas env --regen` to add it)"})
		case k.Secret != nil:
			if err := k.Secret.Check(v); err != nil {
				problems = append(problems, EnvProblem{k.Key, k.Module, err.Error()})
			} else if k.Secret.DerivedFrom != "" && !k.Secret.Matches(v, env[k.Secret.DerivedFrom]) {
				problems = append(problems, EnvProblem{k.Key, k.Module, fmt.Sprintf("does not match %s (run `fast-saas env --regen`)", k.Secret.DerivedFrom)})
			}
		case v != "" && want[k.Key] != v:
			problems = append(problems, EnvProblem{k.Key, k.Module, fmt.Sprintf("is %q, but %s says %q (run `fast-saas env --regen`)", v, ManifestFile, want[k.Key])})
		case k.Required && v == "":
			msg := "required value is empty"
			if k.Comment != "" {
				msg += ": " + k.Comment
			}
			problems = append(problems, EnvProblem{k.Key, k.Module, msg})
		}
	}
	if profilesChecked {
		return problems, nil
	}
	// The generator does not list COMPOSE_PROFILES: check it here.
	if got := env[ComposeProfilesKey]; got != want[ComposeProfilesKey] {
		problems = append(problems, EnvProblem{Key: ComposeProfilesKey, Problem: fmt.Sprintf("is %q, want %q for the selected layers (run `fast-saas env --regen`)", got, want[ComposeProfilesKey])})
	}
	return problems, nil
}

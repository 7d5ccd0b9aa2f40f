package project

import (
	"fmt"
)

// EnvProblem is one thing wrong with .env for the current selection.
type EnvProblem struct {
	Key     string `json:"key"`
	Module  string `json:"module,omitempty"`
	Problem string `json:"problem"`
}

// CheckEnv validates .env against the selection: every key present, every
// secret in its format and neither a placeholder nor weak, every required
// setting non-empty, COMPOSE_PROFILES matching the selected layers. It
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
	var problems []EnvProblem
	for _, k := range p.gen().EnvKeys(res.Modules) {
		v, ok := env[k.Key]
		switch {
		case !ok:
			problems = append(problems, EnvProblem{k.Key, k.Module, "missing (run `fast-saas env --regen` to add it)"})
		case k.Secret != nil:
			if err := k.Secret.Check(v); err != nil {
				problems = append(problems, EnvProblem{k.Key, k.Module, err.Error()})
			} else if k.Secret.DerivedFrom != "" && !k.Secret.Matches(v, env[k.Secret.DerivedFrom]) {
				problems = append(problems, EnvProblem{k.Key, k.Module, fmt.Sprintf("does not match %s (run `fast-saas env --regen`)", k.Secret.DerivedFrom)})
			}
		case k.Required && v == "":
			msg := "required value is empty"
			if k.Comment != "" {
				msg += ": " + k.Comment
			}
			problems = append(problems, EnvProblem{k.Key, k.Module, msg})
		}
	}
	want := composeProfiles(layersOf(res.Modules))
	if got, ok := env[ComposeProfilesKey]; !ok || got != want {
		problems = append(problems, EnvProblem{Key: ComposeProfilesKey, Problem: fmt.Sprintf("is %q, want %q for the selected layers (run `fast-saas env --regen`)", got, want)})
	}
	return problems, nil
}

package entitlements

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// maxFileBytes bounds a plans file.
const maxFileBytes = 1 << 20

// fileFormat is the plans file schema:
//
//	features: [core, sso, ...]     # optional; default: the spec's 8 keys
//	plans:
//	  - id: free
//	    name: Free                 # optional
//	    limits: {api_calls_per_month: 1000, rate_limit_per_minute: 60, storage_mb: 100, team_members: 1}
//	    features: [core]
//
// Every limit must be given (-1 = unlimited): a forgotten limit must not
// silently become 0 and lock tenants out.
type fileFormat struct {
	Features []string   `json:"features" yaml:"features"`
	Plans    []filePlan `json:"plans" yaml:"plans"`
}

type filePlan struct {
	ID       string     `json:"id" yaml:"id"`
	Name     string     `json:"name" yaml:"name"`
	Limits   fileLimits `json:"limits" yaml:"limits"`
	Features []string   `json:"features" yaml:"features"`
}

type fileLimits struct {
	APICallsPerMonth   *int64 `json:"api_calls_per_month" yaml:"api_calls_per_month"`
	RateLimitPerMinute *int64 `json:"rate_limit_per_minute" yaml:"rate_limit_per_minute"`
	StorageMB          *int64 `json:"storage_mb" yaml:"storage_mb"`
	TeamMembers        *int64 `json:"team_members" yaml:"team_members"`
}

// Parse reads a plans file in JSON (when it starts with '{') or YAML.
// Unknown fields, missing limits, unknown features, duplicate plans and
// trailing documents are errors.
func Parse(data []byte) (*Plans, error) {
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%w: file larger than %d bytes", ErrInvalid, maxFileBytes)
	}
	var f fileFormat
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("%w: json: %w", ErrInvalid, err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: json: data after the top-level object", ErrInvalid)
		}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: empty file", ErrInvalid)
			}
			return nil, fmt.Errorf("%w: yaml: %w", ErrInvalid, err)
		}
		var extra any
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: yaml: more than one document", ErrInvalid)
		}
	}
	plans := make([]Plan, 0, len(f.Plans))
	for i, fp := range f.Plans {
		l := fp.Limits
		for name, v := range map[string]*int64{"api_calls_per_month": l.APICallsPerMonth,
			"rate_limit_per_minute": l.RateLimitPerMinute, "storage_mb": l.StorageMB, "team_members": l.TeamMembers} {
			if v == nil {
				return nil, fmt.Errorf("%w: plan %d (%q): limits.%s is missing (use -1 for unlimited)", ErrInvalid, i, fp.ID, name)
			}
		}
		plans = append(plans, Plan{ID: fp.ID, Name: fp.Name, Features: fp.Features, Limits: Limits{
			APICallsPerMonth: *l.APICallsPerMonth, RateLimitPerMinute: *l.RateLimitPerMinute,
			StorageMB: *l.StorageMB, TeamMembers: *l.TeamMembers}})
	}
	return New(plans, f.Features)
}

// LoadFile reads and parses a plans file.
func LoadFile(path string) (*Plans, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load plans: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load plans %s: %w", path, err)
	}
	return t, nil
}

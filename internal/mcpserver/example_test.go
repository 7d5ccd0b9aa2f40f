package mcpserver

import (
	"github.com/danielgtaylor/huma/v2"
)

// example builds a small value that satisfies s (required properties
// only, first enum value, minimum lengths and bounds), so tools the tests
// have no hand-written arguments for (a new AI operation, say) are still
// called with valid input. fill names values for properties by name.
func example(reg huma.Registry, s *huma.Schema, fill map[string]any) any {
	for s.Ref != "" {
		s = reg.SchemaFromRef(s.Ref)
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	typ := s.Type
	switch typ {
	case huma.TypeObject, "":
		if s.Properties == nil {
			if typ == "" {
				return map[string]any{"example": true}
			}
			return map[string]any{}
		}
		out := map[string]any{}
		for _, name := range s.Required {
			if v, ok := fill[name]; ok {
				out[name] = v
				continue
			}
			out[name] = example(reg, s.Properties[name], fill)
		}
		return out
	case huma.TypeArray:
		n := 1
		if s.MinItems != nil && *s.MinItems > 1 {
			n = *s.MinItems
		}
		out := make([]any, n)
		for i := range out {
			out[i] = example(reg, s.Items, fill)
		}
		return out
	case huma.TypeString:
		switch s.Format {
		case "uuid":
			return "01900000-0000-7000-8000-000000000000"
		case "date-time":
			return "2026-01-01T00:00:00Z"
		case "email":
			return "someone@example.com"
		case "uri":
			return "https://example.com/"
		}
		v := "example"
		if s.MinLength != nil && *s.MinLength > len(v) {
			for len(v) < *s.MinLength {
				v += "x"
			}
		}
		return v
	case huma.TypeInteger, huma.TypeNumber:
		if s.Minimum != nil && *s.Minimum > 1 {
			return *s.Minimum
		}
		return 1
	case huma.TypeBoolean:
		return true
	}
	return nil
}

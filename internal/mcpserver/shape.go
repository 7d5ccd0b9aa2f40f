package mcpserver

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// Where an argument travels in the REST request.
const (
	inPath  = "path"
	inQuery = "query"
	inBody  = "body"
)

// param is one top-level tool argument and where it comes from in the
// operation's typed input.
type param struct {
	Name string // argument name (the REST name: path/query name or body JSON name)
	In   string // inPath, inQuery or inBody
	// GoKey is the JSON key that fills this field when the input struct is
	// decoded by core.Operation.CallJSON (path/query fields have no json
	// tag, so it is the Go field name; embedded structs promote theirs).
	GoKey   string
	Explode bool // query arrays sent as repeated keys, not comma-joined
	Default any  // schema default applied in-process (REST applies its own)
}

// shape is how an operation's input maps to flat tool arguments.
type shape struct {
	Params []param
	// Body says whether the input has a Body field, BodyArg whether that
	// body is passed whole as the "body" argument (non-object bodies such
	// as the AI proxies' raw JSON) instead of spread into top-level args.
	Body, BodyArg, BodyRequired bool
	// bodyOptional is set for a spread body that may be left out (a
	// *struct Body): no body is sent when no body argument is given.
	bodyOptional bool
	Schema       *huma.Schema
	byName       map[string]param
	// lazy, when set, is the tool set this shape belongs to: every use
	// goes through lazy.once, which derives the deferred shapes (input
	// set, fields empty until then) and orders that derivation, which
	// writes the shared registry, before any validation reads it.
	lazy  *lazyShapes
	input reflect.Type
}

// lazyShapes derives the argument shapes of a tool set on first use.
type lazyShapes struct {
	reg     huma.Registry
	once    sync.Once
	pending []*shape
	err     error
}

// later returns a shape of t to be derived on first use.
func (l *lazyShapes) later(t reflect.Type) *shape {
	sh := &shape{lazy: l, input: t}
	l.pending = append(l.pending, sh)
	return sh
}

func (l *lazyShapes) derive() {
	for _, sh := range l.pending {
		d, err := shapeOf(l.reg, sh.input)
		if err != nil {
			l.err = fmt.Errorf("mcp: input %s: %w", sh.input, err)
			return
		}
		sh.Params, sh.Body, sh.BodyArg, sh.BodyRequired, sh.bodyOptional = d.Params, d.Body, d.BodyArg, d.BodyRequired, d.bodyOptional
		sh.Schema, sh.byName = d.Schema, d.byName
	}
}

// ensure derives the shape if it was deferred; it must precede any use of
// the shape's fields.
func (sh *shape) ensure() error {
	if sh.lazy == nil {
		return nil
	}
	sh.lazy.once.Do(sh.lazy.derive)
	return sh.lazy.err
}

// bodyArg is the argument that carries a body passed whole.
const bodyArg = "body"

// argField names an input field as the tool's arguments do. The API names
// it by location ("path.id", "query.from", "body.events[0].quantity");
// tools take path, query and body fields side by side ("id", "from",
// "events[0].quantity"), except a body passed whole, under bodyArg.
func (sh *shape) argField(field string) string {
	for _, loc := range []string{"path.", "query."} {
		if name, ok := strings.CutPrefix(field, loc); ok {
			return name
		}
	}
	if sh != nil && !sh.BodyArg {
		if name, ok := strings.CutPrefix(field, bodyArg+"."); ok {
			return name
		}
	}
	return field
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// shapeOf derives the tool arguments and their JSON schema from an
// operation's input type, with huma's schema rules (the same tags the REST
// adapter validates with: doc, pattern, enum, minimum, default…), so MCP
// and REST accept the same inputs. Path, query and body fields all become
// top-level arguments; a name used twice is an error.
func shapeOf(reg huma.Registry, t reflect.Type) (*shape, error) {
	sh := &shape{byName: map[string]param{}}
	s := &huma.Schema{Type: huma.TypeObject, Properties: map[string]*huma.Schema{}, AdditionalProperties: false}
	add := func(p param, ps *huma.Schema, required bool) error {
		if _, dup := sh.byName[p.Name]; dup {
			return fmt.Errorf("argument %q is defined twice", p.Name)
		}
		if ps.Default != nil {
			p.Default = ps.Default
		}
		sh.byName[p.Name] = p
		sh.Params = append(sh.Params, p)
		s.Properties[p.Name] = ps
		if required {
			s.Required = append(s.Required, p.Name)
		}
		return nil
	}
	var walk func(t reflect.Type) error
	walk = func(t reflect.Type) error {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
				if err := walk(f.Type); err != nil {
					return err
				}
				continue
			}
			if !f.IsExported() {
				continue
			}
			goKey := f.Name
			if j, _, _ := strings.Cut(f.Tag.Get("json"), ","); j != "" && j != "-" {
				goKey = j
			}
			if name, ok := f.Tag.Lookup("path"); ok {
				ps := huma.SchemaFromField(reg, f, "")
				if err := add(param{Name: name, In: inPath, GoKey: goKey}, ps, true); err != nil {
					return err
				}
				continue
			}
			if tag, ok := f.Tag.Lookup("query"); ok {
				name, opts, _ := strings.Cut(tag, ",")
				ps := huma.SchemaFromField(reg, f, "")
				if err := add(param{Name: name, In: inQuery, GoKey: goKey, Explode: strings.Contains(opts, "explode")}, ps, f.Tag.Get("required") == "true"); err != nil {
					return err
				}
				continue
			}
			if f.Name != "Body" {
				continue // headers, cookies: nothing an MCP client sets
			}
			sh.Body = true
			bt := f.Type
			// huma's rule, so MCP requires a body exactly when REST does.
			required := f.Tag.Get("required") == "true" || (bt.Kind() != reflect.Pointer && bt.Kind() != reflect.Interface)
			for bt.Kind() == reflect.Pointer {
				bt = bt.Elem()
			}
			if bt.Kind() != reflect.Struct || bt == rawMessageType {
				sh.BodyArg, sh.BodyRequired = true, required
				ps := huma.SchemaFromField(reg, f, "Body")
				if bt == rawMessageType {
					ps = &huma.Schema{Description: "JSON body passed to the operation as is"}
				}
				if err := add(param{Name: bodyArg, In: inBody, GoKey: goKey}, ps, required); err != nil {
					return err
				}
				continue
			}
			sh.bodyOptional = !required
			bs := reg.Schema(bt, false, t.Name()+"Body")
			for bs.Ref != "" {
				bs = reg.SchemaFromRef(bs.Ref)
			}
			req := map[string]bool{}
			for _, r := range bs.Required {
				req[r] = true
			}
			for _, name := range sortedKeys(bs.Properties, bt) {
				if err := add(param{Name: name, In: inBody, GoKey: name}, bs.Properties[name], required && req[name]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("input type %s is not a struct", t)
	}
	if err := walk(t); err != nil {
		return nil, err
	}
	s.PrecomputeMessages()
	sh.Schema = s
	return sh, nil
}

// sortedKeys lists the body properties in the struct's field order, so the
// schema reads like the Go type (maps have none).
func sortedKeys(props map[string]*huma.Schema, t reflect.Type) []string {
	seen := map[string]bool{}
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if _, ok := props[name]; ok && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for name := range props {
		if !seen[name] {
			out = append(out, name) // promoted fields of embedded structs
		}
	}
	return out
}

// schemaJSON renders the tool input schema with the shared definitions
// it references (transitively) inlined as $defs, so every $ref resolves
// inside the document and no tool carries another tool's types.
func schemaJSON(reg huma.Registry, s *huma.Schema) (json.RawMessage, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	defs := map[string]json.RawMessage{}
	queue := refsIn(b)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if _, done := defs[name]; done {
			continue
		}
		d, ok := reg.Map()[name]
		if !ok {
			return nil, fmt.Errorf("unresolved $ref %s", name)
		}
		db, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		defs[name] = db
		queue = append(queue, refsIn(db)...)
	}
	if len(defs) == 0 {
		return b, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["$defs"] = defs
	return json.Marshal(m)
}

const refPrefix = `"$ref":"#/$defs/`

// refsIn lists the definition names referenced in a marshalled schema.
func refsIn(b []byte) []string {
	var out []string
	s := string(b)
	for {
		i := strings.Index(s, refPrefix)
		if i < 0 {
			return out
		}
		s = s[i+len(refPrefix):]
		j := strings.IndexByte(s, '"')
		if j < 0 {
			return out
		}
		out = append(out, s[:j])
		s = s[j:]
	}
}

// validate checks args against the tool schema with huma's validator
// (the REST adapter's rules) and returns the messages, each naming the
// argument at fault.
func (sh *shape) validate(reg huma.Registry, args map[string]any) []*huma.ErrorDetail {
	if err := sh.ensure(); err != nil {
		return []*huma.ErrorDetail{{Message: "the tool's input schema cannot be derived: " + err.Error()}}
	}
	pb := huma.NewPathBuffer(make([]byte, 0, 64), 0)
	res := &huma.ValidateResult{}
	huma.Validate(reg, sh.Schema, pb, huma.ModeWriteToServer, args, res)
	out := make([]*huma.ErrorDetail, 0, len(res.Errors))
	for _, e := range res.Errors {
		if d, ok := e.(*huma.ErrorDetail); ok {
			out = append(out, d)
			continue
		}
		out = append(out, &huma.ErrorDetail{Message: e.Error()})
	}
	return out
}

// coreInput renders validated args as the JSON that core.Operation.CallJSON
// decodes into the typed input: path and query fields under their Go keys,
// body fields nested under "Body". Schema defaults of top-level arguments
// are applied, as the REST adapter does for omitted parameters and body
// fields.
func (sh *shape) coreInput(args map[string]any) (json.RawMessage, error) {
	if err := sh.ensure(); err != nil {
		return nil, err
	}
	in := map[string]any{}
	var body map[string]any
	for _, p := range sh.Params {
		v, ok := args[p.Name]
		if !ok || v == nil {
			// An optional body left out gets no defaults (REST sends none).
			if p.Default == nil || (p.In == inBody && sh.bodyOptional) {
				continue
			}
			v = p.Default
		}
		switch {
		case p.In == inBody && sh.BodyArg:
			in[p.GoKey] = v
		case p.In == inBody:
			if body == nil {
				body = map[string]any{}
			}
			body[p.GoKey] = v
		default:
			in[p.GoKey] = v
		}
	}
	if sh.Body && !sh.BodyArg && (body != nil || !sh.bodyOptional) {
		if body == nil {
			body = map[string]any{}
		}
		in["Body"] = body
	}
	return json.Marshal(in)
}

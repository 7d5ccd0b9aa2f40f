package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Catalog is a validated, ordered set of modules.
type Catalog struct {
	mods  []Module
	index map[string]int
}

// UnknownModuleError is returned for a module id that is not in the catalog.
type UnknownModuleError struct {
	Name       string
	Suggestion string // closest id, "" if none is plausible
}

func (e *UnknownModuleError) Error() string {
	if e.Suggestion != "" {
		return fmt.Sprintf("unknown module %q (did you mean %q?)", e.Name, e.Suggestion)
	}
	return fmt.Sprintf("unknown module %q (run `fast-saas catalog` to list modules)", e.Name)
}

// ErrCycle is wrapped by the error New returns for a dependency cycle.
var ErrCycle = errors.New("dependency cycle")

// New validates mods and returns a catalog keeping their order: ids must be
// unique and non-empty, layers known, dependencies known and acyclic.
func New(mods []Module) (*Catalog, error) {
	c := &Catalog{mods: slices.Clone(mods), index: make(map[string]int, len(mods))}
	for i, m := range c.mods {
		if m.ID == "" {
			return nil, fmt.Errorf("module #%d has no id", i)
		}
		if _, dup := c.index[m.ID]; dup {
			return nil, fmt.Errorf("duplicate module id %q", m.ID)
		}
		if !m.Layer.Valid() {
			return nil, fmt.Errorf("module %q: unknown layer %q", m.ID, m.Layer)
		}
		c.index[m.ID] = i
	}
	for _, m := range c.mods {
		for _, d := range m.Dependencies {
			if _, ok := c.index[d]; !ok {
				return nil, fmt.Errorf("module %q depends on unknown module %q", m.ID, d)
			}
		}
	}
	if cycle := c.findCycle(); cycle != nil {
		return nil, fmt.Errorf("%w: %s", ErrCycle, strings.Join(cycle, " → "))
	}
	return c, nil
}

// findCycle returns one dependency cycle as a path that starts and ends with
// the same id, or nil.
func (c *Catalog) findCycle() []string {
	const (
		unseen = iota
		active
		done
	)
	state := make([]int, len(c.mods))
	var stack []string
	var visit func(i int) []string
	visit = func(i int) []string {
		state[i] = active
		stack = append(stack, c.mods[i].ID)
		for _, d := range c.mods[i].Dependencies {
			j := c.index[d]
			switch state[j] {
			case active:
				start := slices.Index(stack, d)
				return append(slices.Clone(stack[start:]), d)
			case unseen:
				if cyc := visit(j); cyc != nil {
					return cyc
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		return nil
	}
	for i := range c.mods {
		if state[i] == unseen {
			if cyc := visit(i); cyc != nil {
				return cyc
			}
		}
	}
	return nil
}

// Modules returns every module in catalog order.
func (c *Catalog) Modules() []Module { return slices.Clone(c.mods) }

// Lookup returns the module with the given id.
func (c *Catalog) Lookup(id string) (Module, bool) {
	i, ok := c.index[id]
	if !ok {
		return Module{}, false
	}
	return c.mods[i], true
}

// Resolution is a selection with its dependencies, ready to generate.
type Resolution struct {
	Modules []Module // dependencies before dependants; catalog order among peers
	Added   []string // ids added because something selected needs them
}

// IDs returns the ids of the resolved modules in order.
func (r Resolution) IDs() []string {
	ids := make([]string, len(r.Modules))
	for i, m := range r.Modules {
		ids[i] = m.ID
	}
	return ids
}

// Resolve closes ids over dependencies (and the essential layer, which is
// always on) and orders the result topologically. Duplicate ids are ignored;
// an unknown id yields *UnknownModuleError.
func (c *Catalog) Resolve(ids []string) (Resolution, error) {
	selected := make([]bool, len(c.mods))
	requested := make([]bool, len(c.mods))
	var queue []int
	for _, id := range ids {
		i, ok := c.index[id]
		if !ok {
			return Resolution{}, &UnknownModuleError{Name: id, Suggestion: c.Closest(id)}
		}
		requested[i] = true
		if !selected[i] {
			selected[i] = true
			queue = append(queue, i)
		}
	}
	// Essential modules are always on (no Compose profile): every selection
	// includes them, reported in Added when not asked for.
	for i, m := range c.mods {
		if m.Layer == Essential && !selected[i] {
			selected[i] = true
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, d := range c.mods[i].Dependencies {
			j := c.index[d]
			if !selected[j] {
				selected[j] = true
				queue = append(queue, j)
			}
		}
	}
	// Kahn's algorithm, always taking the earliest ready module in catalog
	// order, so the result is stable and independent of the input order.
	var res Resolution
	placed := make([]bool, len(c.mods))
	remaining := 0
	for _, s := range selected {
		if s {
			remaining++
		}
	}
	for remaining > 0 {
		progressed := false
		for i, m := range c.mods {
			if !selected[i] || placed[i] {
				continue
			}
			ready := true
			for _, d := range m.Dependencies {
				if !placed[c.index[d]] {
					ready = false
					break
				}
			}
			if !ready {
				continue
			}
			placed[i] = true
			remaining--
			progressed = true
			res.Modules = append(res.Modules, m)
			if !requested[i] {
				res.Added = append(res.Added, m.ID)
			}
			break
		}
		if !progressed {
			// New rejects cycles, so this only happens for a hand-built Catalog.
			return Resolution{}, fmt.Errorf("resolve: %w", ErrCycle)
		}
	}
	return res, nil
}

// Dependents returns the modules of selected that need id, directly or
// through another selected module, in catalog order. Used to refuse a removal.
func (c *Catalog) Dependents(selected []string, id string) []string {
	in := make(map[string]bool, len(selected))
	for _, s := range selected {
		in[s] = true
	}
	needs := make(map[string]bool) // memo: module → needs id
	var visiting = make(map[string]bool)
	var need func(m string) bool
	need = func(m string) bool {
		if v, ok := needs[m]; ok {
			return v
		}
		if visiting[m] {
			return false
		}
		visiting[m] = true
		mod, ok := c.Lookup(m)
		res := false
		if ok {
			for _, d := range mod.Dependencies {
				if d == id || need(d) {
					res = true
					break
				}
			}
		}
		needs[m] = res
		return res
	}
	var out []string
	for _, m := range c.mods {
		if in[m.ID] && m.ID != id && need(m.ID) {
			out = append(out, m.ID)
		}
	}
	return out
}

// Closest returns the module id nearest to name by edit distance, or "" when
// nothing is plausibly what the user meant.
func (c *Catalog) Closest(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return ""
	}
	best, bestDist := "", -1
	for _, m := range c.mods {
		d := levenshtein(name, m.ID)
		if strings.HasPrefix(m.ID, name) || strings.HasPrefix(name, m.ID) {
			d = min(d, 1)
		}
		if bestDist < 0 || d < bestDist {
			best, bestDist = m.ID, d
		}
	}
	// Allow about a third of the longer word to differ.
	limit := max(len(name), len(best))/3 + 1
	if bestDist > limit {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Names that long are not module ids; avoid quadratic work on junk.
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// DefaultSelection returns the ids of the default modules (essential, core
// and ops layers) in catalog order.
func (c *Catalog) DefaultSelection() []string {
	var ids []string
	for _, m := range c.mods {
		if m.Default {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// InLayers returns the ids of every module in the given layers, in catalog order.
func (c *Catalog) InLayers(layers ...Layer) []string {
	var ids []string
	for _, m := range c.mods {
		if slices.Contains(layers, m.Layer) {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

package project

import (
	"errors"
	"fmt"
	"strings"
)

// EnvFile is a parsed .env file that remembers the exact bytes of every
// line it did not change, so rewriting a project never alters a value the
// operator (or an earlier run) put there.
//
// The accepted syntax is the subset of Docker Compose's .env format that the
// scaffolder writes and that operators commonly edit by hand:
//
//	# comment
//	KEY=value            # unquoted; " #" starts a comment, trailing blanks trimmed
//	KEY='literal'        # single quotes: no escapes but \' , no interpolation
//	KEY="with \"escapes\" \n"
//	export KEY=value
//
// Quoted values may span lines. Anything else is an error naming the line.
type EnvFile struct {
	entries []envEntry
}

type envEntry struct {
	raw   string // exact bytes, including the trailing newline if any
	key   string // "" for blank lines and comments
	value string
}

// ErrEnvSyntax is wrapped by every .env parse error.
var ErrEnvSyntax = errors.New("invalid .env syntax")

// ParseEnv parses data. It never panics; malformed input yields an error
// wrapping ErrEnvSyntax that names the line.
func ParseEnv(data []byte) (*EnvFile, error) {
	src := string(data)
	f := &EnvFile{}
	line := 1
	for len(src) > 0 {
		// Split off one physical line first; quoted values extend it.
		end := strings.IndexByte(src, '\n')
		var text string
		if end < 0 {
			text = src
		} else {
			text = src[:end]
		}
		trimmed := strings.TrimSpace(text)
		if trimmed == "" || trimmed[0] == '#' {
			n := len(text)
			if end >= 0 {
				n++
			}
			f.entries = append(f.entries, envEntry{raw: src[:n]})
			src = src[n:]
			line++
			continue
		}
		key, value, consumed, lines, err := parseAssignment(src)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrEnvSyntax, line, err)
		}
		f.entries = append(f.entries, envEntry{raw: src[:consumed], key: key, value: value})
		src = src[consumed:]
		line += lines
	}
	return f, nil
}

// parseAssignment reads one KEY=VALUE statement at the start of src and
// returns how many bytes (including the final newline) and lines it used.
func parseAssignment(src string) (key, value string, consumed, lines int, err error) {
	i := skipBlanks(src, 0)
	if strings.HasPrefix(src[i:], "export") && len(src) > i+6 && (src[i+6] == ' ' || src[i+6] == '\t') {
		i = skipBlanks(src, i+6)
	}
	start := i
	for i < len(src) && isKeyByte(src[i], i == start) {
		i++
	}
	key = src[start:i]
	if key == "" {
		return "", "", 0, 0, fmt.Errorf("expected KEY=VALUE, found %q", firstLine(src[start:]))
	}
	i = skipBlanks(src, i)
	if i >= len(src) || src[i] != '=' {
		return "", "", 0, 0, fmt.Errorf("expected '=' after %q", key)
	}
	i = skipBlanks(src, i+1)
	lines = 1
	if i < len(src) && (src[i] == '\'' || src[i] == '"') {
		quote := src[i]
		var b strings.Builder
		j := i + 1
		closed := false
		for j < len(src) {
			c := src[j]
			if c == '\n' {
				lines++
			}
			if c == '\\' && j+1 < len(src) {
				next := src[j+1]
				if quote == '\'' {
					// Compose treats \' as a literal quote inside single
					// quotes; every other backslash stays as written.
					if next == '\'' {
						b.WriteByte('\'')
					} else {
						b.WriteByte('\\')
						b.WriteByte(next)
					}
				} else {
					b.WriteString(unescapeDouble(next))
				}
				if next == '\n' {
					lines++
				}
				j += 2
				continue
			}
			if c == quote {
				closed = true
				j++
				break
			}
			b.WriteByte(c)
			j++
		}
		if !closed {
			return "", "", 0, 0, fmt.Errorf("unterminated %c-quoted value for %s", quote, key)
		}
		// After the closing quote only blanks and a comment may follow.
		k := skipBlanks(src, j)
		if k < len(src) && src[k] != '\n' && src[k] != '#' && src[k] != '\r' {
			return "", "", 0, 0, fmt.Errorf("unexpected text after quoted value of %s", key)
		}
		end := strings.IndexByte(src[j:], '\n')
		if end < 0 {
			return key, b.String(), len(src), lines, nil
		}
		return key, b.String(), j + end + 1, lines, nil
	}
	end := strings.IndexByte(src[i:], '\n')
	rest := src[i:]
	consumed = len(src)
	if end >= 0 {
		rest = src[i : i+end]
		consumed = i + end + 1
	}
	if c := strings.Index(rest, " #"); c >= 0 {
		rest = rest[:c]
	}
	return key, strings.TrimRight(rest, " \t\r"), consumed, lines, nil
}

func unescapeDouble(c byte) string {
	switch c {
	case 'n':
		return "\n"
	case 't':
		return "\t"
	case 'r':
		return "\r"
	case '"', '\\', '$':
		return string(c)
	default:
		return "\\" + string(c)
	}
}

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func isKeyByte(c byte, first bool) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_':
		return true
	case c >= '0' && c <= '9', c == '.', c == '-':
		return !first
	}
	return false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// ValidEnvKey reports whether key can be written to a .env file.
func ValidEnvKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		if !isKeyByte(key[i], i == 0) {
			return false
		}
	}
	return true
}

// Get returns the value of key (the last assignment wins, as in Compose).
func (f *EnvFile) Get(key string) (string, bool) {
	for i := len(f.entries) - 1; i >= 0; i-- {
		if f.entries[i].key == key {
			return f.entries[i].value, true
		}
	}
	return "", false
}

// Keys returns every assigned key once, in file order.
func (f *EnvFile) Keys() []string {
	seen := make(map[string]bool)
	var keys []string
	for _, e := range f.entries {
		if e.key != "" && !seen[e.key] {
			seen[e.key] = true
			keys = append(keys, e.key)
		}
	}
	return keys
}

// Map returns every key and its effective value.
func (f *EnvFile) Map() map[string]string {
	m := make(map[string]string, len(f.entries))
	for _, e := range f.entries {
		if e.key != "" {
			m[e.key] = e.value
		}
	}
	return m
}

// Set assigns value to key: the last existing assignment is rewritten in
// place (other lines keep their bytes), otherwise the key is appended.
func (f *EnvFile) Set(key, value string) error {
	line, err := FormatEnvLine(key, value)
	if err != nil {
		return err
	}
	for i := len(f.entries) - 1; i >= 0; i-- {
		if f.entries[i].key == key {
			if f.entries[i].value == value {
				return nil // keep the original spelling (quotes, comments)
			}
			f.entries[i] = envEntry{raw: line, key: key, value: value}
			return nil
		}
	}
	f.ensureNewline()
	f.entries = append(f.entries, envEntry{raw: line, key: key, value: value})
	return nil
}

// AppendComment appends a comment line (for example a section header).
func (f *EnvFile) AppendComment(text string) {
	f.ensureNewline()
	var b strings.Builder
	for _, l := range strings.Split(text, "\n") {
		b.WriteString("# " + l + "\n")
	}
	f.entries = append(f.entries, envEntry{raw: b.String()})
}

// AppendBlank appends an empty line.
func (f *EnvFile) AppendBlank() {
	f.ensureNewline()
	f.entries = append(f.entries, envEntry{raw: "\n"})
}

func (f *EnvFile) ensureNewline() {
	if n := len(f.entries); n > 0 && !strings.HasSuffix(f.entries[n-1].raw, "\n") {
		f.entries[n-1].raw += "\n"
	}
}

// Bytes renders the file. Unchanged lines are returned byte for byte.
func (f *EnvFile) Bytes() []byte {
	var b strings.Builder
	for _, e := range f.entries {
		b.WriteString(e.raw)
	}
	return []byte(b.String())
}

// FormatEnvLine renders KEY=VALUE plus a newline, quoting the value so that
// both ParseEnv and Docker Compose read back exactly value (no variable
// interpolation: bcrypt hashes contain '$').
func FormatEnvLine(key, value string) (string, error) {
	if !ValidEnvKey(key) {
		return "", fmt.Errorf("invalid .env key %q", key)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return "", fmt.Errorf("value of %s contains control byte %#x", key, c)
		}
	}
	switch {
	case isPlainValue(value):
		return key + "=" + value + "\n", nil
	case !strings.ContainsAny(value, "'\\\n"):
		return key + "='" + value + "'\n", nil
	default:
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`, "$", `\$`)
		return key + `="` + r.Replace(value) + "\"\n", nil
	}
}

// isPlainValue reports whether value needs no quotes: the characters every
// generated secret format uses, and nothing Compose would interpolate or
// treat as a comment.
func isPlainValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("_-.,:/+=@%", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Line returns the exact text of key's (last) assignment, newline included,
// so callers can check that a value was kept byte for byte.
func (f *EnvFile) Line(key string) (string, bool) {
	for i := len(f.entries) - 1; i >= 0; i-- {
		if f.entries[i].key == key {
			return f.entries[i].raw, true
		}
	}
	return "", false
}

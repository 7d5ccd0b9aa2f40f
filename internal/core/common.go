package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/fast-saas/fast-saas/internal/store"
)

// ListParams are the pagination query parameters of every list.
type ListParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size (1–100)"`
	Cursor string `query:"cursor" maxLength:"512" doc:"Opaque cursor from the previous page's next_cursor"`
}

func (p ListParams) page() store.Page { return store.Page{Limit: p.Limit, Cursor: p.Cursor} }

// List is the body of every list response.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page"`

	// text, when set, keeps the page's JSON once made: a page shared by
	// many requests (a cached tenant list) is encoded once, not per
	// request. Only pages that are never modified may have it.
	text *jsonText
}

// jsonText is a value's JSON, made on first use.
type jsonText struct {
	once sync.Once
	b    []byte
}

// keepJSON marks a page shared by many requests (and never modified) to
// keep its JSON once made.
func keepJSON[T any](b *Body[List[T]]) *Body[List[T]] {
	b.Body.text = new(jsonText)
	return b
}

// Encoded is a response body that may carry its JSON already made;
// EncodedJSON returns it (exactly what EncodeJSON would write), or nil to
// have the body encoded as usual.
type Encoded interface {
	EncodedJSON() []byte
}

// EncodedJSON is the page's JSON when it is kept (see List.text).
func (l List[T]) EncodedJSON() []byte {
	if l.text == nil {
		return nil
	}
	l.text.once.Do(func() {
		plain := l
		plain.text = nil
		var buf bytes.Buffer
		if EncodeJSON(&buf, plain) == nil {
			l.text.b = buf.Bytes()
		}
	})
	return l.text.b
}

// EncodeJSON writes v as a response body: one line of JSON, HTML
// characters unescaped (the API's one JSON encoding).
func EncodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Body wraps a response body (huma's convention).
type Body[T any] struct {
	Body T
}

// Empty is the output of operations that answer 204 No Content.
type Empty struct{}

func listOf[S, T any](items []S, next string, conv func(S) T) *Body[List[T]] {
	out := make([]T, 0, len(items))
	for _, it := range items {
		out = append(out, conv(it))
	}
	return &Body[List[T]]{Body: List[T]{Items: out, NextCursor: next}}
}

// storeErr turns a store error into a public one. what names the object
// for not-found answers. Unknown errors stay internal (500, cause logged).
func storeErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return NotFound(what)
	case errors.Is(err, store.ErrUnavailable):
		return unavailable(err)
	case errors.Is(err, store.ErrLastOwner):
		return &Error{Status: http.StatusConflict, Code: CodeLastOwner, Detail: "a tenant must keep at least one owner", cause: err}
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Detail: what + " already exists or conflicts", cause: err}
	case errors.Is(err, store.ErrInvalid):
		// The store's message names the field ("invalid: role \"x\""),
		// never a secret, so it is safe to show.
		msg := err.Error()
		field := ""
		if i := strings.Index(msg, "invalid: "); i >= 0 {
			msg = msg[i+len("invalid: "):]
			field = msg
			if j := strings.IndexAny(msg, " :"); j > 0 {
				field = msg[:j]
			}
		}
		if field == "cursor" {
			return &Error{Status: http.StatusBadRequest, Code: "bad_cursor", Field: "cursor", Detail: "cursor is malformed or stale", cause: err}
		}
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalid, Field: field, Detail: msg, cause: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}

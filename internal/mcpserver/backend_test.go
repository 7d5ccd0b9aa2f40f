package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fast-saas/fast-saas/client"
	"github.com/fast-saas/fast-saas/internal/core"
)

// TestRemoteBuildsTheRequest checks what Remote sends for one call:
// method, escaped path, query (arrays exploded or joined as declared),
// JSON body of the body arguments only, and the bearer token.
func TestRemoteBuildsTheRequest(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, rawPath, query, auth, body string
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), string(b)}
		if r.URL.Query().Get("fail") != "" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"status":409,"code":"conflict","detail":"taken","field":"name"}`)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	reg := huma.NewMapRegistry("#/$defs/", huma.DefaultSchemaNamer)
	type input struct {
		ID   string   `path:"id"`
		Tags []string `query:"tags,explode"`
		Kind []string `query:"kind"`
		Fail string   `query:"fail"`
		Body struct {
			Name string `json:"name"`
		}
	}
	sh, err := shapeOf(reg, reflect.TypeFor[input]())
	if err != nil {
		t.Fatal(err)
	}
	op := core.Operation{ID: "doThing", Method: http.MethodPost, Path: "/api/v1/things/{id}/do"}
	r := Remote{Client: client.New(srv.URL, "fsk_secret")}
	out, err := r.Call(context.Background(), Call{Op: op, shape: sh, Args: map[string]any{
		"id": "a/b c", "tags": []any{"x", "y"}, "kind": []any{"p", "q"}, "name": "n",
	}})
	if err != nil || string(out) != `{"ok":true}` {
		t.Fatalf("call: %s, %v", out, err)
	}
	want := seen{"POST", "/api/v1/things/a%2Fb%20c/do", "kind=p%2Cq&tags=x&tags=y", "Bearer fsk_secret", `{"name":"n"}`}
	if g := <-got; g != want {
		t.Errorf("request\n got %+v\nwant %+v", g, want)
	}
	_, err = r.Call(context.Background(), Call{Op: op, shape: sh, Args: map[string]any{"id": "x", "name": "n", "fail": "1"}})
	<-got
	var p *Problem
	if !asProblem(err, &p) || p.Status != 409 || p.Code != "conflict" || p.Field != "name" {
		t.Errorf("problem answer: %v, want *Problem 409 conflict on name", err)
	}
	b, _ := json.Marshal(problemResult(p).StructuredContent)
	if string(b) != `{"error":{"status":409,"code":"conflict","detail":"taken","field":"name"}}` {
		t.Errorf("isError content %s", b)
	}
}

func asProblem(err error, p **Problem) bool { return errors.As(err, p) }

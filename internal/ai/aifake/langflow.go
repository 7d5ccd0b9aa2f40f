package aifake

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/google/uuid"
)

// Langflow fakes the parts of the Langflow API (https://docs.langflow.org)
// that fast-saas uses: GET /health, GET /health_check (500 with the failed
// checks as "detail" when SetDatabaseDown), GET /api/v1/flows/ (a JSON array with
// get_all=true, the default; a page object otherwise), GET
// /api/v1/flows/{flow_id} (a UUID; 422 otherwise), POST
// /api/v1/run/{flow_id_or_name}, GET /api/v1/all. Every /api/v1 route needs
// the API key in the x-api-key header (or query parameter); errors are
// FastAPI documents: {"detail": "..."} or, for validation, {"detail":
// [{"loc": [...], "msg": "...", "type": "..."}]}.
type Langflow struct {
	script
	Server *httptest.Server
	URL    string
	// APIKey is the key every /api/v1 call must present.
	APIKey string

	mu     sync.Mutex
	flows  map[string]FakeFlow
	dbDown bool
}

// SetDatabaseDown makes GET /health_check report the database as failed.
func (l *Langflow) SetDatabaseDown(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dbDown = down
}

// FakeFlow is a flow stored in the fake.
type FakeFlow struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	EndpointName string          `json:"endpoint_name"`
	Data         json.RawMessage `json:"data"`
	IsComponent  bool            `json:"is_component"`
	Tags         []string        `json:"tags"`
	UpdatedAt    string          `json:"updated_at"`
	UserID       string          `json:"user_id"`
	FolderID     string          `json:"folder_id"`
}

// NewLangflow starts a fake Langflow that accepts apiKey, closed when the
// test ends.
func NewLangflow(t testing.TB, apiKey string) *Langflow {
	l := &Langflow{APIKey: apiKey, flows: map[string]FakeFlow{}}
	mux := http.NewServeMux()
	l.handle(mux, "GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	l.handle(mux, "GET /health_check", func(w http.ResponseWriter, _ *http.Request) {
		l.mu.Lock()
		down := l.dbDown
		l.mu.Unlock()
		if down {
			writeJSON(w, http.StatusInternalServerError, map[string]any{
				"detail": map[string]string{"status": "nok", "chat": "ok", "db": "error check the server logs"},
			})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "chat": "ok", "db": "ok"})
	})
	l.handle(mux, "GET /api/v1/flows/", l.auth(l.listFlows))
	l.handle(mux, "GET /api/v1/flows/{flow_id}", l.auth(l.getFlow))
	l.handle(mux, "POST /api/v1/run/{flow_id_or_name}", l.auth(l.run))
	l.handle(mux, "GET /api/v1/all", l.auth(l.all))
	l.Server = httptest.NewServer(mux)
	l.URL = l.Server.URL
	t.Cleanup(l.Server.Close)
	return l
}

// AddFlow stores a flow; an empty ID gets a random UUID. It returns the ID.
func (l *Langflow) AddFlow(f FakeFlow) string {
	if f.ID == "" {
		f.ID = uuid.NewString()
	}
	if f.Data == nil {
		f.Data = json.RawMessage(`{"nodes":[],"edges":[],"viewport":{"x":0,"y":0,"zoom":1}}`)
	}
	if f.UpdatedAt == "" {
		f.UpdatedAt = "2026-11-26T01:02:03+00:00"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flows[f.ID] = f
	return f.ID
}

func detail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"detail": msg})
}

func validation(w http.ResponseWriter, loc []string, msg, typ string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"detail": []map[string]any{{"loc": loc, "msg": msg, "type": typ}},
	})
}

func (l *Langflow) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("x-api-key")
		if key == "" {
			key = r.URL.Query().Get("x-api-key")
		}
		if key == "" {
			detail(w, http.StatusForbidden, "An API key must be passed as query or header")
			return
		}
		if subtle.ConstantTimeCompare([]byte(key), []byte(l.APIKey)) != 1 {
			detail(w, http.StatusForbidden, "Invalid or missing API key")
			return
		}
		h(w, r)
	}
}

func boolParam(r *http.Request, name string, def bool) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	return strconv.ParseBool(v)
}

func (l *Langflow) listFlows(w http.ResponseWriter, r *http.Request) {
	getAll, err1 := boolParam(r, "get_all", true)
	headers, err2 := boolParam(r, "header_flows", false)
	_, err3 := boolParam(r, "remove_example_flows", false)
	_, err4 := boolParam(r, "components_only", false)
	for name, err := range map[string]error{"get_all": err1, "header_flows": err2, "remove_example_flows": err3, "components_only": err4} {
		if err != nil {
			validation(w, []string{"query", name}, "Input should be a valid boolean", "bool_parsing")
			return
		}
	}
	folder := r.URL.Query().Get("folder_id")
	l.mu.Lock()
	flows := make([]FakeFlow, 0, len(l.flows))
	for _, f := range l.flows {
		if folder == "" || f.FolderID == folder {
			flows = append(flows, f)
		}
	}
	l.mu.Unlock()
	sort.Slice(flows, func(i, j int) bool { return flows[i].Name < flows[j].Name })

	items := make([]any, 0, len(flows))
	for _, f := range flows {
		if headers { // FlowHeader: no graph data
			items = append(items, map[string]any{
				"id": f.ID, "name": f.Name, "description": f.Description,
				"endpoint_name": f.EndpointName, "is_component": f.IsComponent, "folder_id": f.FolderID, "tags": f.Tags,
			})
			continue
		}
		items = append(items, f)
	}
	if getAll {
		writeJSON(w, http.StatusOK, items)
		return
	}
	page, size := 1, 50
	if v := r.URL.Query().Get("page"); v != "" {
		if page, err1 = strconv.Atoi(v); err1 != nil || page < 1 {
			validation(w, []string{"query", "page"}, "Input should be greater than or equal to 1", "greater_than_equal")
			return
		}
	}
	if v := r.URL.Query().Get("size"); v != "" {
		if size, err1 = strconv.Atoi(v); err1 != nil || size < 1 || size > 100 {
			validation(w, []string{"query", "size"}, "Input should be less than or equal to 100", "less_than_equal")
			return
		}
	}
	start := min((page-1)*size, len(items))
	end := min(start+size, len(items))
	writeJSON(w, http.StatusOK, map[string]any{
		"items": items[start:end], "total": len(items), "page": page, "size": size,
		"pages": int(math.Ceil(float64(len(items)) / float64(size))),
	})
}

func (l *Langflow) getFlow(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("flow_id")
	if _, err := uuid.Parse(id); err != nil {
		validation(w, []string{"path", "flow_id"}, "Input should be a valid UUID", "uuid_parsing")
		return
	}
	l.mu.Lock()
	f, ok := l.flows[id]
	l.mu.Unlock()
	if !ok {
		detail(w, http.StatusNotFound, "Flow not found")
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (l *Langflow) findFlow(idOrName string) (FakeFlow, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.flows[idOrName]; ok {
		return f, true
	}
	for _, f := range l.flows {
		if f.EndpointName != "" && f.EndpointName == idOrName {
			return f, true
		}
	}
	return FakeFlow{}, false
}

func (l *Langflow) run(w http.ResponseWriter, r *http.Request) {
	if _, err := boolParam(r, "stream", false); err != nil {
		validation(w, []string{"query", "stream"}, "Input should be a valid boolean", "bool_parsing")
		return
	}
	idOrName := r.PathValue("flow_id_or_name")
	flow, ok := l.findFlow(idOrName)
	if !ok {
		detail(w, http.StatusNotFound, fmt.Sprintf("Flow identifier %s not found", idOrName))
		return
	}
	var req struct {
		InputValue      *string         `json:"input_value"`
		InputType       *string         `json:"input_type"`
		OutputType      *string         `json:"output_type"`
		OutputComponent *string         `json:"output_component"`
		Tweaks          json.RawMessage `json:"tweaks"`
		SessionID       *string         `json:"session_id"`
	}
	if err := decodeJSON(r, &req); err != nil {
		validation(w, []string{"body"}, "JSON decode error", "json_invalid")
		return
	}
	if req.InputType != nil && !oneOf(*req.InputType, "chat", "text", "any") {
		validation(w, []string{"body", "input_type"}, "Input should be 'chat', 'text' or 'any'", "literal_error")
		return
	}
	if req.OutputType != nil && !oneOf(*req.OutputType, "chat", "text", "any", "debug") {
		validation(w, []string{"body", "output_type"}, "Input should be 'chat', 'text', 'any' or 'debug'", "literal_error")
		return
	}
	if len(req.Tweaks) > 0 && string(req.Tweaks) != "null" {
		var tw map[string]json.RawMessage
		if json.Unmarshal(req.Tweaks, &tw) != nil {
			validation(w, []string{"body", "tweaks"}, "Input should be a valid dictionary", "dict_type")
			return
		}
	}
	input := ""
	if req.InputValue != nil {
		input = *req.InputValue
	}
	session := flow.ID
	if req.SessionID != nil && *req.SessionID != "" {
		session = *req.SessionID
	}
	text := "echo: " + input
	writeJSON(w, http.StatusOK, map[string]any{
		"session_id": session,
		"outputs": []any{map[string]any{
			"inputs": map[string]any{"input_value": input},
			"outputs": []any{map[string]any{
				"results": map[string]any{"message": map[string]any{
					"text": text, "sender": "Machine", "sender_name": "AI", "session_id": session,
				}},
				"artifacts":              map[string]any{"message": text, "type": "text"},
				"outputs":                map[string]any{"message": map[string]any{"message": text, "type": "text"}},
				"logs":                   map[string]any{"message": []any{}},
				"messages":               []any{map[string]any{"message": text, "sender": "Machine", "sender_name": "AI", "session_id": session}},
				"component_display_name": "Chat Output",
				"component_id":           "ChatOutput-fake1",
				"used_frozen_result":     false,
			}},
		}},
	})
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func (l *Langflow) all(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"inputs": map[string]any{
			"ChatInput": map[string]any{"display_name": "Chat Input", "description": "Get chat inputs from the Playground.", "template": map[string]any{}},
		},
		"outputs": map[string]any{
			"ChatOutput": map[string]any{"display_name": "Chat Output", "description": "Display a chat message in the Playground.", "template": map[string]any{}},
		},
	})
}

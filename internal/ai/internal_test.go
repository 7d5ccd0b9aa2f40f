package ai

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNewBaseValidatesURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url     string
		wantErr bool
		want    string // endpoint("/api/tags", nil)
	}{
		{"http://ollama:11434", false, "http://ollama:11434/api/tags"},
		{"https://lf.example.com/base/", false, "https://lf.example.com/base/api/tags"},
		{"http://h/with%2Fslash", false, "http://h/with%2Fslash/api/tags"},
		{"", true, ""},
		{"ftp://x", true, ""},
		{"http://", true, ""},
		{"://bad", true, ""},
		{"http://h/?q=1", true, ""},
		{"http://h/#frag", true, ""},
		{"file:///etc/passwd", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			t.Parallel()
			b, err := newBase("test", tc.url, Options{})
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got := b.endpoint("/api/tags", nil); got != tc.want {
				t.Fatalf("endpoint = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestProxyStatus(t *testing.T) {
	t.Parallel()
	cases := map[int]int{
		200: 502, // error line inside a 2xx stream
		302: 502, // redirects are not followed
		400: 400, 401: 502, 403: 502, 404: 404, 407: 502, 408: 504, 409: 409,
		413: 413, 422: 422, 429: 429,
		500: 502, 501: 502, 502: 502, 503: 503, 504: 504, 599: 502,
	}
	for in, want := range cases {
		if got := (&UpstreamError{Status: in}).ProxyStatus(); got != want {
			t.Errorf("ProxyStatus(%d) = %d, want %d", in, got, want)
		}
	}
	if _, ok := HTTPStatus(errors.New("other")); ok {
		t.Error("HTTPStatus classified a foreign error")
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body, msg, code string
	}{
		{`{"error":"model 'x' not found"}`, "model 'x' not found", ""},
		{`{"detail":"Flow not found"}`, "Flow not found", ""},
		{`{"detail":[{"loc":["body"],"msg":"a"},{"msg":"b"}]}`, "a; b", ""},
		{`{"type":"t","title":"Conflict","status":409,"detail":"job is already succeeded","code":"job_finished"}`, "job is already succeeded", "job_finished"},
		{`{"title":"Not Found","code":"not_found"}`, "Not Found", "not_found"},
		{`<html>502</html>`, "", ""},
		{`{"error":{"nested":true}}`, "", ""},
		{`{"error":"line1\nline2\u0000"}`, "line1 line2", ""},
	}
	for _, tc := range cases {
		msg, code := errorMessage([]byte(tc.body))
		if msg != tc.msg || code != tc.code {
			t.Errorf("errorMessage(%s) = %q, %q; want %q, %q", tc.body, msg, code, tc.msg, tc.code)
		}
	}
}

func TestSafeSnippet(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"héllo", 2, "h"}, // never half a rune
		{"héllo", 3, "hé"},
		{"a\x00b\x1bc\x7f", 10, "a b c"},
		{"\xff\xfeok", 10, "\uFFFDok"},
		{"  padded  ", 20, "padded"},
	}
	for _, tc := range cases {
		got := safeSnippet([]byte(tc.in), tc.n)
		if got != tc.want {
			t.Errorf("safeSnippet(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestReadLine(t *testing.T) {
	t.Parallel()
	in := "{\"a\":1}\n\n  \r\n{\"b\":2}\r\n" + strings.Repeat("x", 40) + "\n{\"tail\":true}"
	r := bufio.NewReaderSize(strings.NewReader(in), 16) // small buffer: exercise ErrBufferFull
	var got []string
	for {
		line, err := readLine(r, 30)
		if len(line) > 0 {
			got = append(got, string(line))
		}
		if err != nil {
			if !errors.Is(err, ErrResponseTooLarge) {
				t.Fatalf("err = %v after %q, want ErrResponseTooLarge at the long line", err, got)
			}
			break
		}
	}
	if strings.Join(got, "|") != `{"a":1}|{"b":2}` {
		t.Fatalf("lines = %q", got)
	}

	r = bufio.NewReader(strings.NewReader("{\"x\":1}\n{\"tail\":true}"))
	if line, err := readLine(r, 100); err != nil || string(line) != `{"x":1}` {
		t.Fatalf("first = %q, %v", line, err)
	}
	if line, err := readLine(r, 100); !errors.Is(err, io.EOF) || string(line) != `{"tail":true}` {
		t.Fatalf("unterminated tail = %q, %v; want the line and io.EOF", line, err)
	}
}

func TestParsePullLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		line    string
		want    PullProgress
		wantErr string // "invalid", "upstream" or ""
	}{
		{`{"status":"pulling manifest"}`, PullProgress{Status: "pulling manifest"}, ""},
		{`{"status":"pulling abc","digest":"sha256:abc","total":10,"completed":5,"extra":1}`,
			PullProgress{Status: "pulling abc", Digest: "sha256:abc", Total: 10, Completed: 5}, ""},
		{`{"error":"pull model manifest: file does not exist"}`, PullProgress{}, "upstream"},
		{`{"error":""}`, PullProgress{}, "upstream"},
		{`{"status":""}`, PullProgress{}, "invalid"},
		{`{}`, PullProgress{}, "invalid"},
		{`[]`, PullProgress{}, "invalid"},
		{`{"status":"x","total":-1}`, PullProgress{}, "invalid"},
		{`{"status":"x","total":"big"}`, PullProgress{}, "invalid"},
		{`not json`, PullProgress{}, "invalid"},
	}
	b := &base{service: "ollama"}
	for _, tc := range cases {
		var got PullProgress
		err := parsePullLine([]byte(tc.line), &got)
		switch tc.wantErr {
		case "":
			if err != nil || got != tc.want {
				t.Errorf("%s: got %+v, %v; want %+v", tc.line, got, err, tc.want)
			}
		case "upstream":
			var ue *UpstreamError
			if !errors.As(b.lineError("pull", err), &ue) || ue.ProxyStatus() != http.StatusBadGateway || ue.Message == "" {
				t.Errorf("%s: err = %v, want an UpstreamError mapping to 502", tc.line, err)
			}
		case "invalid":
			if !errors.Is(b.lineError("pull", err), ErrInvalidResponse) {
				t.Errorf("%s: err = %v, want ErrInvalidResponse", tc.line, err)
			}
		}
	}
}

// FuzzParsePullLine: the pull stream comes from the network. Any line must
// parse into a valid progress or a classified error, never panic, and a
// failure text must be a safe snippet.
func FuzzParsePullLine(f *testing.F) {
	for _, s := range []string{
		`{"status":"pulling manifest"}`,
		`{"status":"pulling c6eb396dbd59","digest":"sha256:c6eb","total":9608350245,"completed":1048576}`,
		`{"status":"success"}`,
		`{"error":"pull model manifest: file does not exist"}`,
		`{"error":null,"status":"x"}`,
		`{"status":"x","total":1e30}`,
		"{\"error\":\"\xff\\u0000\"}",
		``, `null`, `{"status":1}`,
	} {
		f.Add([]byte(s))
	}
	b := &base{service: "ollama"}
	f.Fuzz(func(t *testing.T, line []byte) {
		var p PullProgress
		err := parsePullLine(line, &p)
		if err == nil {
			if p.Status == "" || p.Total < 0 || p.Completed < 0 {
				t.Fatalf("accepted invalid progress %+v from %q", p, line)
			}
			return
		}
		if p != (PullProgress{}) {
			t.Fatalf("error %v but output modified: %+v", err, p)
		}
		classified := b.lineError("pull", err)
		var ue *UpstreamError
		switch {
		case errors.As(classified, &ue):
			if !utf8.ValidString(ue.Message) || len(ue.Message) > maxErrorBody || strings.ContainsAny(ue.Message, "\x00\n\r") {
				t.Fatalf("unsafe message %q", ue.Message)
			}
		case errors.Is(classified, ErrInvalidResponse):
		default:
			t.Fatalf("unclassified error %v", classified)
		}
	})
}

// FuzzReadLine: whatever bytes arrive, readLine returns lines no longer
// than the limit, without surrounding whitespace, and terminates.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n\n{\"b\":2}"), 8)
	f.Add([]byte("\r\n\r\n"), 1)
	f.Add([]byte(strings.Repeat("x", 100)+"\n"), 50)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 1 || max > 1<<16 {
			return
		}
		r := bufio.NewReaderSize(strings.NewReader(string(in)), 16)
		for range len(in) + 2 {
			line, err := readLine(r, int64(max))
			if len(line) > max {
				t.Fatalf("line of %d bytes over limit %d", len(line), max)
			}
			if strings.TrimSpace(string(line)) != string(line) {
				t.Fatalf("line %q not trimmed", line)
			}
			if err != nil {
				return
			}
		}
		t.Fatal("readLine did not reach the end of its input")
	})
}

// FuzzErrorMessage: upstream error bodies are untrusted; what we keep of
// them must be short, valid UTF-8 and free of control characters, because
// it reaches logs and problem details.
func FuzzErrorMessage(f *testing.F) {
	for _, s := range []string{
		`{"error":"model 'x' not found"}`,
		`{"detail":[{"loc":["body"],"msg":"a"},{"msg":"b"}]}`,
		`{"detail":{"status":"nok"}}`,
		`{"title":"Conflict","code":"job_finished","detail":"x"}`,
		"{\"error\":\"\\u0000\\n\xff\"}",
		`<html>502</html>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, code := errorMessage(body)
		for _, s := range []string{msg, code, safeSnippet(body, maxErrorBody)} {
			if !utf8.ValidString(s) || len(s) > maxErrorBody {
				t.Fatalf("unsafe or long output %q", s)
			}
			for _, r := range s {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("control character in %q", s)
				}
			}
		}
	})
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("redirect followed to %s with x-api-key %q", r.URL, r.Header.Get("x-api-key"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL+"/steal", http.StatusFound))
	defer srv.Close()
	c, err := NewLangflow(srv.URL, Options{APIKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListFlows(t.Context(), ListFlowsOptions{})
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusFound || ue.ProxyStatus() != http.StatusBadGateway {
		t.Fatalf("err = %v, want the 302 as an UpstreamError mapped to 502", err)
	}
}

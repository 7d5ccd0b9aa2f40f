package ai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// pullStreamBody is a realistic pull stream: 3 layers × 200 progress lines.
func pullStreamBody() []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"status":"pulling manifest"}` + "\n")
	for l := range 3 {
		digest := fmt.Sprintf("sha256:%064d", l)
		for i := range 200 {
			fmt.Fprintf(&buf, `{"status":"pulling %s","digest":"%s","total":2142590208,"completed":%d}`+"\n", digest[7:19], digest, i*10712951)
		}
	}
	buf.WriteString(`{"status":"verifying sha256 digest"}` + "\n" + `{"status":"writing manifest"}` + "\n" + `{"status":"success"}` + "\n")
	return buf.Bytes()
}

func benchServer(b *testing.B, body []byte, contentType string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkPullStream: our client end to end over loopback (limits, idle
// timer, parsing) …
func BenchmarkPullStream(b *testing.B) {
	body := pullStreamBody()
	srv := benchServer(b, body, "application/x-ndjson")
	o, err := NewOllama(srv.URL, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, err := range o.PullStream(context.Background(), PullRequest{Model: "m"}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 604 {
			b.Fatalf("lines = %d", n)
		}
	}
}

// … against the baseline: a bare http.Post + bufio.Scanner + json.Unmarshal
// with no limits, timeouts or validation.
func BenchmarkPullStreamBaseline(b *testing.B) {
	body := pullStreamBody()
	srv := benchServer(b, body, "application/x-ndjson")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Post(srv.URL+"/api/pull", "application/json", strings.NewReader(`{"model":"m"}`))
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		n := 0
		for sc.Scan() {
			var p PullProgress
			if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
				b.Fatal(err)
			}
			n++
		}
		resp.Body.Close()
		if n != 604 {
			b.Fatalf("lines = %d", n)
		}
	}
}

func tagsBody() []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"models":[`)
	for i := range 20 {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"name":"model-%d:latest","model":"model-%d:latest","modified_at":"2026-11-04T14:56:49.277302595-07:00","size":7365960935,"digest":"9f438cb9cd581fc025612d27f7c1a6669ff83a8bb0ed86c94fcf4c5440555697","details":{"format":"gguf","family":"llama","families":null,"parameter_size":"13B","quantization_level":"Q4_0"}}`, i, i)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// BenchmarkListModels: one proxied call through our client …
func BenchmarkListModels(b *testing.B) {
	srv := benchServer(b, tagsBody(), "application/json")
	o, err := NewOllama(srv.URL, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ms, err := o.ListModels(context.Background())
		if err != nil || len(ms) != 20 {
			b.Fatal(len(ms), err)
		}
	}
}

// … against the baseline: http.Get + io.ReadAll + json.Unmarshal.
func BenchmarkListModelsBaseline(b *testing.B) {
	srv := benchServer(b, tagsBody(), "application/json")
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.Get(srv.URL + "/api/tags")
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		var out struct{ Models []OllamaModel }
		if err := json.Unmarshal(body, &out); err != nil || len(out.Models) != 20 {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePullLine(b *testing.B) {
	line := []byte(`{"status":"pulling c6eb396dbd59","digest":"sha256:c6eb396dbd59c6eb396dbd59c6eb396dbd59c6eb396dbd59c6eb396dbd59abcd","total":9608350245,"completed":1048576}`)
	b.ReportAllocs()
	for b.Loop() {
		var p PullProgress
		if err := parsePullLine(line, &p); err != nil {
			b.Fatal(err)
		}
	}
}

package ai_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/fast-saas/fast-saas/internal/ai"
	"github.com/fast-saas/fast-saas/internal/ai/aifake"
)

// The fakes want a testing.TB for cleanup; examples have none.
type exampleTB struct{ testing.TB }

func (exampleTB) Cleanup(func()) {}

func ExampleOllama_PullStream() {
	fake := aifake.NewOllama(exampleTB{})
	defer fake.Server.Close()
	fake.AddRemote("llama3.2", 2000)

	ollama, err := ai.NewOllama(fake.URL, ai.Options{})
	if err != nil {
		panic(err)
	}
	var summary ai.PullSummary
	for p, err := range ollama.PullStream(context.Background(), ai.PullRequest{Model: "llama3.2"}) {
		if err != nil {
			fmt.Println("pull failed:", err)
			return
		}
		summary.Add(p)
		fmt.Printf("%-26s %5.1f%%\n", p.Status, summary.Percent())
	}
	// Output:
	// pulling manifest             0.0%
	// pulling 63cbd1039a57         0.0%
	// pulling 63cbd1039a57        50.0%
	// pulling 63cbd1039a57       100.0%
	// verifying sha256 digest    100.0%
	// writing manifest           100.0%
	// success                    100.0%
}

func ExampleHTTPStatus() {
	fake := aifake.NewLangflow(exampleTB{}, "sk-right")
	defer fake.Server.Close()

	// The upstream refuses our key: that is our configuration fault, so the
	// API answers 502, not the upstream's 403.
	langflow, _ := ai.NewLangflow(fake.URL, ai.Options{APIKey: "sk-wrong"})
	_, err := langflow.ListFlows(context.Background(), ai.ListFlowsOptions{})
	var ue *ai.UpstreamError
	if errors.As(err, &ue) {
		status, _ := ai.HTTPStatus(err)
		fmt.Println(ue.Status, "→", status, ue.Message)
	}
	// Output:
	// 403 → 502 Invalid or missing API key
}

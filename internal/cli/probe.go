package cli

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// newProbeCmd is the container health check of our distroless image, which
// has no shell, curl or wget: it GETs a URL and exits 0 only on a 2xx.
func newProbeCmd(io IO) *cobra.Command {
	timeout := 3 * time.Second
	cmd := &cobra.Command{
		Use:     "probe URL",
		Short:   "GET a URL and exit 0 on a 2xx answer (container health checks)",
		Example: "  fast-saas probe http://127.0.0.1:8080/health",
		Args:    cobra.ExactArgs(1),
		Hidden:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			client := &http.Client{Timeout: timeout}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, args[0], nil)
			if err != nil {
				return fmt.Errorf("probe: %w", err)
			}
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("probe: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				return fmt.Errorf("probe: %s answered %s", args[0], resp.Status)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", timeout, "give up after this long")
	return cmd
}

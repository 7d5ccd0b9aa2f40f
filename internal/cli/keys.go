package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fast-saas/fast-saas/internal/server"
)

// newKeysCmd groups key administration; `create-platform` mints a
// platform admin key directly in the store (for operators with access to
// the database, e.g. after losing the first key).
func newKeysCmd(io IO) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage platform admin keys"}
	name := "cli"
	create := &cobra.Command{
		Use:   "create-platform",
		Short: "Create a platform admin key and print it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return fmt.Errorf("keys: %w", err)
			}
			srv, err := server.New(cmd.Context(), cfg, io.Err)
			if err != nil {
				return fmt.Errorf("keys: %w", err)
			}
			defer srv.Close()
			secret, err := server.CreatePlatformKey(cmd.Context(), srv.Store, name)
			if err != nil {
				return fmt.Errorf("keys: %w", err)
			}
			_, err = fmt.Fprintln(io.Out, secret)
			return err
		},
	}
	addConfigFlags(create.Flags())
	create.Flags().StringVar(&name, "name", name, "label of the key")
	cmd.AddCommand(create)
	return cmd
}

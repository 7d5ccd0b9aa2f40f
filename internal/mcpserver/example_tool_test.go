package mcpserver_test

import (
	"fmt"

	"github.com/fast-saas/fast-saas/internal/mcpserver"
)

// Tool names are the operation ids in snake_case, acronyms kept whole.
func ExampleToolName() {
	for _, id := range []string{"createTenant", "rotateAPIKey", "getMe"} {
		fmt.Println(mcpserver.ToolName(id))
	}
	// Output:
	// create_tenant
	// rotate_api_key
	// get_me
}

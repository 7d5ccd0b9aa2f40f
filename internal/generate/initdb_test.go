package generate

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fast-saas/fast-saas/internal/catalog"
	"github.com/fast-saas/fast-saas/internal/testenv"
)

// The db-init script runs against a real Postgres with psql, as the db-init
// job does: it creates each module's role and database, is idempotent, and
// re-applies a rotated password. Role names are made unique because roles
// are global to the server that other tests share.
func TestInitScriptOnRealPostgres(t *testing.T) {
	testenv.Postgres(t) // skips (or fails in CI) without a server
	psql := testenv.Tool(t, "psql")
	admin, err := url.Parse(os.Getenv(testenv.PostgresVar))
	if err != nil {
		t.Fatal(err)
	}
	suffix := testenv.Suffix()
	a, b := "fsa_"+suffix, "fsb_"+suffix
	mods := []catalog.Module{
		{ID: "a", Database: &catalog.Database{Name: a, Role: a, PasswordKey: "A_DB_PASSWORD", CreateRole: true}},
		{ID: "b", Database: &catalog.Database{Name: b, Role: b, PasswordKey: "B_DB_PASSWORD"}},
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "init.sh")
	if err := os.WriteFile(script, initScript(mods), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adminConn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatal(err)
	}
	defer adminConn.Close(context.Background())
	t.Cleanup(func() {
		ctx := context.Background()
		for _, n := range []string{a, b} {
			_, _ = adminConn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
			_, _ = adminConn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{n}.Sanitize())
		}
	})

	pass := admin.User.Username()
	pw, _ := admin.User.Password()
	run := func(aPass, bPass string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "sh", script)
		cmd.Env = []string{
			"PATH=" + filepath.Dir(psql) + ":/usr/bin:/bin",
			"PGHOST=" + admin.Hostname(), "PGPORT=" + admin.Port(), "PGUSER=" + pass, "PGPASSWORD=" + pw,
			"PGDATABASE=" + admin.Path[1:], "PGSSLMODE=disable",
			"A_DB_PASSWORD=" + aPass, "B_DB_PASSWORD=" + bPass,
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("init script: %v\n%s", err, out)
		}
	}
	// A password with quote characters must stay data, never SQL.
	run("pa'ss\"word;--", "second")
	run("pa'ss\"word;--", "second") // idempotent: a second run changes nothing and does not fail

	var createRole bool
	if err := adminConn.QueryRow(ctx, "SELECT rolcreaterole FROM pg_roles WHERE rolname = $1", a).Scan(&createRole); err != nil || !createRole {
		t.Errorf("role %s CREATEROLE = %v (%v), want true", a, createRole, err)
	}
	if err := adminConn.QueryRow(ctx, "SELECT rolcreaterole FROM pg_roles WHERE rolname = $1", b).Scan(&createRole); err != nil || createRole {
		t.Errorf("role %s CREATEROLE = %v (%v), want false", b, createRole, err)
	}
	var owner string
	if err := adminConn.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", b).Scan(&owner); err != nil || owner != b {
		t.Errorf("database %s owner = %q (%v), want %s", b, owner, err, b)
	}

	// The trust-auth test server does not check passwords, so the rotated
	// password is checked through pg_authid's stored hash changing.
	hash := func(role string) string {
		var h string
		if err := adminConn.QueryRow(ctx, "SELECT coalesce(rolpassword, '') FROM pg_authid WHERE rolname = $1", role).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := hash(b)
	if before == "" {
		t.Fatalf("role %s has no password", b)
	}
	run("pa'ss\"word;--", "rotated")
	if hash(b) == before {
		t.Errorf("password of %s not updated after rotation", b)
	}
	// PUBLIC may not connect to b's database; a's (CREATEROLE) keeps the default.
	var publicConnect bool
	if err := adminConn.QueryRow(ctx, "SELECT has_database_privilege('public', $1, 'CONNECT')", b).Scan(&publicConnect); err != nil || publicConnect {
		t.Errorf("PUBLIC CONNECT on %s = %v (%v), want false", b, publicConnect, err)
	}
	if err := adminConn.QueryRow(ctx, "SELECT has_database_privilege('public', $1, 'CONNECT')", a).Scan(&publicConnect); err != nil || !publicConnect {
		t.Errorf("PUBLIC CONNECT on %s = %v (%v), want true (Logto's own roles connect)", a, publicConnect, err)
	}
	// Each role can use its own database.
	u := *admin
	u.User = url.UserPassword(b, "rotated")
	u.Path = "/" + b
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect as %s: %v", b, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
		t.Errorf("role %s cannot create a table in its database: %v", b, err)
	}
}

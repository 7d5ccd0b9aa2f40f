package harness

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Redis is a redis-server the run owns, on its own port and directory, so
// that restarting it disturbs nothing else on the machine.
type Redis struct {
	Port int
	URL  string
	dir  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// RedisOptions configure a dedicated Redis.
type RedisOptions struct {
	Dir string
	// AppendFsync turns on the append-only file with this fsync policy
	// ("always", "everysec"); "" runs without persistence (load runs).
	AppendFsync string
}

// StartRedis starts redis-server on a free loopback port.
func StartRedis(ctx context.Context, o RedisOptions) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (apt-get install redis-server): %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", o.Dir,
		"--save", "", "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"}
	if o.AppendFsync != "" {
		args = append(args, "--appendonly", "yes", "--appendfsync", o.AppendFsync)
	} else {
		args = append(args, "--appendonly", "no")
	}
	r := &Redis{Port: port, URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), dir: o.Dir, args: append([]string{bin}, args...)}
	return r, r.Start(ctx)
}

// Start (re)starts the server and waits for PING.
func (r *Redis) Start(ctx context.Context) error {
	cmd := exec.Command(r.args[0], r.args[1:]...)
	logf, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	r.cmd, r.done = cmd, done
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.Port)})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return errors.New("redis-server exited at start (see redis.log in its directory)")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server not answering after 20 s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops the server with SIGKILL (a crash: only what the append-only
// file already holds survives) and waits for it to exit.
func (r *Redis) Kill() error {
	if r.cmd == nil || r.cmd.Process == nil {
		return nil
	}
	_ = r.cmd.Process.Kill()
	select {
	case <-r.done:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("redis-server did not exit after SIGKILL")
	}
}

// Postgres is a PostgreSQL cluster the run owns (initdb in a temporary
// directory, its own port and socket directory), so the harness can stop it
// without touching the machine's server.
type Postgres struct {
	Port    int
	dir     string
	binDir  string
	asUser  string // run the tools as this user when we are root ("" = ourselves)
	running bool
}

// pgBinDirs are where Debian and the official images put the server tools.
var pgBinDirs = []string{"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"}

// StartPostgres creates and starts a cluster in dir (which it owns and
// removes on Remove). As root it runs the tools as the "postgres" user,
// because initdb refuses to run as root.
func StartPostgres(ctx context.Context, dir string) (*Postgres, error) {
	p := &Postgres{dir: dir}
	for _, d := range pgBinDirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			p.binDir = d
			break
		}
	}
	if p.binDir == "" {
		return nil, errors.New("initdb not found (apt-get install postgresql-15)")
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs a postgres user for initdb: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		p.asUser = "postgres"
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p.Port = port
	if out, err := p.tool(ctx, "initdb", "-D", p.dataDir(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return p, p.Start(ctx)
}

func (p *Postgres) dataDir() string { return filepath.Join(p.dir, "data") }

func (p *Postgres) tool(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.binDir, name)
	if p.asUser != "" {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", p.asUser, "--", path}, args...)...)
	}
	return exec.CommandContext(ctx, path, args...)
}

// URL is the connection URL of database db as the superuser.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// Start starts the cluster and waits until it accepts connections.
func (p *Postgres) Start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", p.Port, p.dir)
	if out, err := p.tool(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", p.dataDir(), "-l", filepath.Join(p.dir, "postgres.log"), "-o", opts).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	p.running = true
	return nil
}

// Stop stops the cluster in "immediate" mode: no checkpoint, like a crash;
// only what the WAL made durable survives.
func (p *Postgres) Stop(ctx context.Context) error {
	if !p.running {
		return nil
	}
	if out, err := p.tool(ctx, "pg_ctl", "stop", "-w", "-m", "immediate", "-D", p.dataDir()).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	p.running = false
	return nil
}

// Remove stops the cluster and deletes its directory.
func (p *Postgres) Remove(ctx context.Context) error {
	err := p.Stop(ctx)
	return errors.Join(err, os.RemoveAll(p.dir))
}

// CreateDatabase creates database name through the admin URL and returns
// its URL; drop removes it (with FORCE, closing leftover connections).
func CreateDatabase(ctx context.Context, adminURL, name string) (dbURL string, drop func(context.Context) error, err error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("parse postgres URL: %w", err)
	}
	u.Path = "/" + name
	dbURL = u.String()
	drop = func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		return err
	}
	return dbURL, drop, nil
}

// PID is the process id of the running redis-server (0 when stopped).
func (r *Redis) PID() int {
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// BackendPIDs lists the server processes of the other sessions connected
// to dbURL's database (serve's pool), so a run can count Postgres's own CPU
// per request.
func BackendPIDs(ctx context.Context, dbURL string) ([]int, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
	if err != nil {
		return nil, fmt.Errorf("list backends: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("list backends: %w", err)
	}
	out := make([]int, len(pids))
	for i, p := range pids {
		out[i] = int(p)
	}
	return out, nil
}

package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles cmd/fast-saas statically (CGO_ENABLED=0, as released) into
// dir and returns the binary's path. It runs from the module root, found
// with `go env GOMOD` so the harness works from any directory of the module.
func Build(ctx context.Context, dir string) (string, error) {
	return BuildPackage(ctx, dir, "./cmd/fast-saas")
}

// BuildPackage is Build for another main package of the module (the load
// harness's -pprof mode builds ./bench/cmd/servepprof).
func BuildPackage(ctx context.Context, dir, pkg string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("find module root: not inside the fast-saas module")
	}
	bin := filepath.Join(dir, "fast-saas")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, pkg)
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build fast-saas: %w\n%s", err, b)
	}
	return bin, nil
}

// FreePort returns a loopback TCP port that was free a moment ago. The
// harness needs fixed ports so a restarted process answers at the same URL.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ServeOptions describe one `fast-saas serve` replica.
type ServeOptions struct {
	Binary  string
	DataDir string   // --data-dir (SQLite lives here when DATABASE_URL is empty)
	Env     []string // added to the environment (DATABASE_URL=…, REDIS_URL=…, FASTSAAS_…)
	// Log receives serve's stderr (its JSON log); nil discards it.
	Log io.Writer
	// Replica says the store already has a platform key (another replica
	// made it), so serve will print none and Start must not wait for one.
	Replica bool
}

// Serve is a running (or restartable) `fast-saas serve` child process on a
// fixed loopback port.
type Serve struct {
	opts ServeOptions
	Addr string // 127.0.0.1:port
	Base string // http://127.0.0.1:port
	// PlatformKey is the key serve printed on its first start against an
	// empty store (later starts print none, so the first one is kept).
	PlatformKey string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

var platformKeyRE = regexp.MustCompile(`fsp_[0-9A-Za-z]+`)

// StartServe picks a free port and starts serve on it.
func StartServe(ctx context.Context, opts ServeOptions) (*Serve, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Serve{opts: opts, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	s.Base = "http://" + s.Addr
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Start starts the process (again) and waits until it prints that it is
// listening (and, on the first start, its platform key).
func (s *Serve) Start(ctx context.Context) error {
	cmd := exec.Command(s.opts.Binary, "serve", "--addr", s.Addr, "--data-dir", s.opts.DataDir)
	cmd.Env = append(os.Environ(), s.opts.Env...)
	cmd.Stderr = s.opts.Log
	if cmd.Stderr == nil {
		cmd.Stderr = io.Discard
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start serve: %w", err)
	}
	done := make(chan struct{})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody is reading any more: drain
			}
		}
		close(lines)
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	// A first start against an empty store prints the platform key after
	// the URL block; later starts print none.
	wantKey := s.PlatformKey == "" && !s.opts.Replica
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	listening := false
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return errors.New("serve exited before it was ready (see its log)")
			}
			if strings.HasPrefix(line, "fast-saas is listening on ") {
				listening = true
			}
			if k := platformKeyRE.FindString(line); k != "" && wantKey {
				s.PlatformKey = k
			}
			if listening && (!wantKey || s.PlatformKey != "") {
				go func() {
					for range lines {
					}
				}()
				return s.waitHealthy(ctx)
			}
		case <-timeout.C:
			_ = s.Kill()
			return errors.New("serve did not report listening within 60 s")
		case <-ctx.Done():
			_ = s.Kill()
			return ctx.Err()
		}
	}
}

// waitHealthy polls /health until it answers 200.
func (s *Serve) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := getOK(ctx, s.Base+"/health"); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("serve not healthy after 30 s: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is the process id of the running serve (0 when stopped).
func (s *Serve) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill sends SIGKILL, the crash the fault harness simulates, and waits for
// the process to be gone.
func (s *Serve) Kill() error { return s.signalAndWait(syscall.SIGKILL, 10*time.Second) }

// Stop asks for a graceful shutdown (SIGINT) and waits up to 30 s, then kills.
func (s *Serve) Stop() error {
	if err := s.signalAndWait(syscall.SIGINT, 30*time.Second); err != nil {
		return errors.Join(err, s.Kill())
	}
	return nil
}

func (s *Serve) signalAndWait(sig syscall.Signal, wait time.Duration) error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal serve: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(wait):
		return fmt.Errorf("serve (pid %d) still running %s after %s", cmd.Process.Pid, wait, sig)
	}
}

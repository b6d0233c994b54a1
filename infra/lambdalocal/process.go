package lambdalocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// Process is an emulator started as a child process (DynamoDB Local,
// gofakes3, mailpit).
type Process struct {
	Name   string
	Addr   string // host:port it listens on
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartProcess starts cmd and waits until addr accepts connections.
func StartProcess(ctx context.Context, name, addr string, cmd *exec.Cmd, out io.Writer, timeout time.Duration) (*Process, error) {
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Addr: addr, cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(timeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited at start", name)
		case <-ctx.Done():
			p.Close()
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Close()
			return nil, fmt.Errorf("%s did not listen on %s within %s", name, addr, timeout)
		}
	}
}

// Close stops the process.
func (p *Process) Close() error {
	if p.cmd.Process != nil {
		killGroup(p.cmd.Process.Pid)
	}
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
	}
	return nil
}

// DynamoDBJarDir finds DynamoDB Local under root (infra/setup-dynamodb-local.sh
// puts it in infra/.cache/dynamodb-local).
func DynamoDBJarDir(root string) (string, error) {
	var found []string
	base := filepath.Join(root, "infra", ".cache", "dynamodb-local")
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "DynamoDBLocal.jar" {
			found = append(found, filepath.Dir(p))
		}
		return nil
	})
	if len(found) == 0 {
		return "", errors.New("DynamoDB Local not found; run infra/setup-dynamodb-local.sh")
	}
	sort.Strings(found)
	return found[len(found)-1], nil
}

// StartDynamoDBLocal starts DynamoDB Local on 127.0.0.1:port, keeping its
// data under dbPath ("" for in memory).
func StartDynamoDBLocal(ctx context.Context, root string, port int, dbPath string, out io.Writer) (*Process, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, errors.New("java not on PATH; run infra/setup-dynamodb-local.sh")
	}
	dir, err := DynamoDBJarDir(root)
	if err != nil {
		return nil, err
	}
	args := []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m",
		"-Djava.library.path=" + filepath.Join(dir, "DynamoDBLocal_lib"),
		"-jar", "DynamoDBLocal.jar", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port)}
	if dbPath == "" {
		args = append(args, "-inMemory")
	} else {
		abs, err := filepath.Abs(dbPath)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "-dbPath", abs)
	}
	cmd := exec.Command(java, args...)
	cmd.Dir = dir
	return StartProcess(ctx, "DynamoDB Local", "127.0.0.1:"+strconv.Itoa(port), cmd, out, 60*time.Second)
}

// FindTool returns a tool installed by infra/setup-rie.sh (infra/.cache/bin)
// or on PATH; "" when absent.
func FindTool(root, name string) string {
	p := filepath.Join(root, "infra", ".cache", "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

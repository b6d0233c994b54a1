// Package testenv starts the emulators integration tests need. One DynamoDB Local
// process serves the whole test binary; each test uses its own table.
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
//	func TestX(t *testing.T) {
//		db := testenv.DynamoDBClient(t)
//		table := testenv.TableName(t)
//		…
//	}
//
// DynamoDB Local comes from infra/setup-dynamodb-local.sh (the jar under
// infra/.cache/dynamodb-local/) and needs java. When either is missing the tests skip,
// unless the environment variable CI is set: then they fail. Setting
// STEPWISE_TEST_DYNAMODB_ENDPOINT uses an emulator already running there instead.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// EndpointEnv names an already running DynamoDB-compatible endpoint to use.
const EndpointEnv = "STEPWISE_TEST_DYNAMODB_ENDPOINT"

// JarDir is where infra/setup-dynamodb-local.sh puts DynamoDB Local, relative to the
// repository root.
const JarDir = "infra/.cache/dynamodb-local"

// errMissing marks a prerequisite that is not installed.
var errMissing = errors.New("missing")

var dynamo struct {
	once     sync.Once
	endpoint string
	err      error
	proc     *process
}

// Main runs the tests of m and stops the emulators afterwards. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the emulators this process started. Without it (no Main), the Linux
// kernel kills DynamoDB Local when the test binary exits.
func Stop() {
	if p := dynamo.proc; p != nil {
		p.stop()
	}
}

// DynamoDB returns the endpoint URL of DynamoDB Local, starting it on a free port of
// 127.0.0.1 on first use.
func DynamoDB(t testing.TB) string {
	t.Helper()
	dynamo.once.Do(func() {
		if ep := os.Getenv(EndpointEnv); ep != "" {
			dynamo.endpoint = ep
			return
		}
		dynamo.proc, dynamo.err = startDynamoDB()
		if dynamo.err == nil {
			dynamo.endpoint = dynamo.proc.endpoint
		}
	})
	if errors.Is(dynamo.err, errMissing) {
		if os.Getenv("CI") == "" {
			t.Skipf("DynamoDB Local unavailable (%v); run infra/setup-dynamodb-local.sh", dynamo.err)
		}
		t.Fatalf("DynamoDB Local unavailable in CI: %v", dynamo.err)
	}
	if dynamo.err != nil {
		t.Fatalf("DynamoDB Local: %v", dynamo.err)
	}
	return dynamo.endpoint
}

// DynamoDBClient returns a client of DynamoDB Local (see DynamoDB) with dummy
// credentials and response checksum validation off.
func DynamoDBClient(t testing.TB) *dynamodb.Client {
	t.Helper()
	ep := DynamoDB(t)
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")),
	)
	if err != nil {
		t.Fatal(err)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(ep)
		// DynamoDB Local's error responses fail the SDK's CRC32 check and log warnings.
		o.DisableValidateResponseChecksum = true
	})
}

var tableSeq atomic.Int64

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// TableName returns a table name unique in the process, readable after the test's name.
func TableName(t testing.TB) string {
	n := fmt.Sprintf("t%d-%s", tableSeq.Add(1), unsafeName.ReplaceAllString(t.Name(), "-"))
	if len(n) > 255 {
		n = n[:255]
	}
	return n
}

// RepoRoot returns the directory of the nearest go.mod above the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// findJar returns the directory of DynamoDBLocal.jar under root/JarDir.
func findJar(root string) (string, error) {
	var found []string
	base := filepath.Join(root, JarDir)
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "DynamoDBLocal.jar" {
			found = append(found, filepath.Dir(path))
		}
		return nil
	})
	if err != nil || len(found) == 0 {
		return "", fmt.Errorf("%w: no DynamoDBLocal.jar under %s", errMissing, base)
	}
	sort.Strings(found)
	return found[len(found)-1], nil
}

type process struct {
	endpoint string
	cmd      *exec.Cmd
	exited   chan struct{}
	out      *syncBuffer
	release  chan struct{}
	stopOnce sync.Once
}

func startDynamoDB() (*process, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("%w: java not on PATH", errMissing)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := findJar(root)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		p, err := tryStart(java, dir)
		if err == nil || attempt == 2 {
			return p, err
		}
	}
}

// tryStart starts DynamoDB Local on a free port and waits until it answers.
func tryStart(java, dir string) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &process{
		endpoint: fmt.Sprintf("http://127.0.0.1:%d", port),
		exited:   make(chan struct{}),
		out:      &syncBuffer{},
		release:  make(chan struct{}),
	}
	p.cmd = exec.Command(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx256m",
		"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
		"-jar", "DynamoDBLocal.jar", "-inMemory", "-sharedDb", "-disableTelemetry", "-port", fmt.Sprint(port))
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = sysProcAttr()

	// The child dies with the thread that started it (Linux parent-death signal), so
	// start it from a locked thread that lives until stop.
	started := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		go func() {
			p.cmd.Wait()
			close(p.exited)
		}()
		<-p.release
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	if err := p.wait(30 * time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// wait polls the endpoint until it answers HTTP.
func (p *process) wait(timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("DynamoDB Local exited: %s", p.out.String())
		default:
		}
		if res, err := client.Get(p.endpoint); err == nil {
			res.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("DynamoDB Local did not answer on %s within %s: %s", p.endpoint, timeout, p.out.String())
}

func (p *process) stop() {
	p.stopOnce.Do(func() {
		if p.cmd.Process != nil {
			p.cmd.Process.Kill()
			select {
			case <-p.exited:
			case <-time.After(5 * time.Second):
			}
		}
		close(p.release)
	})
}

// freePort returns a TCP port free on every interface (DynamoDB Local binds them all).
func freePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer keeps the first 64 KiB of the emulator's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 64<<10 - b.b.Len(); room > 0 {
		b.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

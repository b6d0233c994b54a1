package awsshape_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/freeport"
	"github.com/stepwise-run/stepwise/shared/plan"
)

// docBlock is one ```sh block of a document.
type docBlock struct {
	line   int    // of the opening fence
	marker string // the HTML comment right before it, if any
	code   string
}

// Markers of blocks TestDeployDocs does not run, and of those it runs (for
// the executable-docs test of docs/, which leaves them to this one).
const (
	markNeedsAccount = "not runnable here:"
	markStarted      = "started by the test:"
	markRunHere      = "run by infra/awsshape TestDeployDocs"
)

// runsHere reports whether TestDeployDocs runs the block.
func (b docBlock) runsHere() bool { return b.marker == "" || b.marker == markRunHere }

var commentLine = regexp.MustCompile(`^<!--\s*(.*?)\s*-->$`)

// shellBlocks extracts the ```sh blocks of a Markdown file, each with the
// comment on the line before its fence (blank lines between are allowed).
func shellBlocks(data []byte) ([]docBlock, error) {
	var out []docBlock
	sc := bufio.NewScanner(bytes.NewReader(data))
	var cur *docBlock
	comment := ""
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur != nil && strings.TrimSpace(l) == "```":
			out = append(out, *cur)
			cur, comment = nil, ""
		case cur != nil:
			cur.code += l + "\n"
		case strings.HasPrefix(l, "```"):
			if lang := strings.TrimPrefix(l, "```"); lang == "sh" || lang == "bash" || lang == "shell" {
				cur = &docBlock{line: n, marker: comment}
				break
			}
			// Another language: skip to its end.
			for sc.Scan() {
				n++
				if strings.TrimSpace(sc.Text()) == "```" {
					break
				}
			}
			comment = ""
		case commentLine.MatchString(strings.TrimSpace(l)):
			comment = commentLine.FindStringSubmatch(strings.TrimSpace(l))[1]
		case strings.TrimSpace(l) != "":
			comment = ""
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: unterminated code block", cur.line)
	}
	return out, sc.Err()
}

// TestDeployDocs runs docs/deploy.md: it starts the `make dev` stack (on
// free ports, with a state folder of its own), then every shell block not
// marked as needing a real account, in order, in one bash with
// /usr/bin/aws (the AWS CLI v2) first on PATH; it checks their key outputs,
// and that the bundle every published state machine's definition names is
// in S3 where the functions load it.
func TestDeployDocs(t *testing.T) {
	t.Parallel() // the long shapes run two at a time: they mostly wait on their functions
	root := repoRoot(t)
	doc := filepath.Join(root, "docs", "deploy.md")
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := shellBlocks(data)
	if err != nil {
		t.Fatalf("docs/deploy.md: %v", err)
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	run := 0
	for i, b := range blocks {
		switch {
		case strings.HasPrefix(b.marker, markNeedsAccount):
			if strings.TrimSpace(strings.TrimPrefix(b.marker, markNeedsAccount)) == "" {
				t.Errorf("docs/deploy.md:%d: say why the block needs a real account", b.line)
			}
		case strings.HasPrefix(b.marker, markStarted):
			if strings.TrimSpace(b.code) != "make dev" {
				t.Errorf("docs/deploy.md:%d: only `make dev` is started by the test, not %q", b.line, b.code)
			}
		case !b.runsHere():
			t.Errorf("docs/deploy.md:%d: unknown marker %q", b.line, b.marker)
		default:
			run++
			// A block's output may not end its last line: the marker starts one.
			fmt.Fprintf(&script, "printf '\\n@@block %d (docs/deploy.md:%d)\\n'\n%s", i, b.line, b.code)
		}
	}
	if run < 6 {
		t.Fatalf("docs/deploy.md: only %d runnable shell blocks; the walk-through is gone?", run)
	}
	script.WriteString("printf '\\n@@done\\n'\n")

	if _, err := os.Stat("/usr/bin/aws"); err != nil {
		require(t, "/usr/bin/aws (the AWS CLI v2) is missing: infra/setup.sh installs it")
	}
	for _, tool := range []string{"jq", "moto_server", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			require(t, tool+" is not on PATH")
		}
	}
	rieBin(t)
	require(t, lambdalocal.SFNAvailable(root))
	require(t, strictWhy())

	// The stack, as `make dev` starts it.
	dir := t.TempDir()
	// Ports below the ephemeral range: the stack binds them a minute later,
	// and a port of that range may meanwhile serve as a connection's source.
	ports := map[string]int{}
	names := []string{"router", "s3", "dynamodb", "ses", "sns", "sms", "moto"}
	free, err := freeport.Ports(len(names))
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range names {
		ports[k] = free[i]
	}
	addr := func(k string) string { return fmt.Sprintf("127.0.0.1:%d", ports[k]) }
	var stackLog bytes.Buffer
	dev := exec.Command("go", "run", "./infra/devstack", "-dir", dir, "-router", addr("router"),
		"-s3", fmt.Sprint(ports["s3"]), "-dynamodb", fmt.Sprint(ports["dynamodb"]), "-moto", fmt.Sprint(ports["moto"]),
		"-ses", addr("ses"), "-sns", addr("sns"), "-sms", addr("sms"))
	dev.Dir, dev.Stdout, dev.Stderr = root, &stackLog, &stackLog
	dev.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- dev.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-dev.Process.Pid, syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-dev.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("make dev:\n%s", stackLog.String())
			if b, err := os.ReadFile(filepath.Join(dir, "functions.log")); err == nil {
				t.Logf("functions.log (tail):\n%s", tail(string(b), 60))
			}
		}
	})
	deadline := time.Now().Add(20 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(dir, "stack.json")); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("make dev exited: %v\n%s", err, stackLog.String())
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("make dev did not start:\n%s", stackLog.String())
		}
	}

	// The blocks, with the AWS CLI v2 first on PATH and no AWS settings
	// but the ones the doc makes (a HOME of its own: no ~/.aws profile).
	bin := t.TempDir()
	if err := os.Symlink("/usr/bin/aws", filepath.Join(bin, "aws")); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "STEPWISE_DEV_DIR=" + dir, "HOME=" + t.TempDir()}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PATH" || k == "HOME" || strings.HasPrefix(k, "AWS_") || k == "STACK" || k == "BUCKET" || k == "TABLE_NAME" {
			continue
		}
		env = append(env, kv)
	}
	// Go's caches stay where they are (HOME changes).
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		if out, err := exec.Command("go", "env", k).Output(); err == nil {
			env = append(env, k+"="+strings.TrimSpace(string(out)))
		}
	}
	env = append(env, "STEPWISE_BOOTSTRAP_CACHE="+lambdalocal.DefaultCacheDir())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-c", script.String())
	sh.Dir, sh.Env = root, env
	out, err := sh.CombinedOutput()
	outputs := map[int]string{}
	cur := -1
	for _, l := range strings.SplitAfter(string(out), "\n") {
		var n int
		if _, e := fmt.Sscanf(l, "@@block %d", &n); e == nil {
			cur = n
			continue
		}
		if cur >= 0 {
			outputs[cur] += l
		}
	}
	if err != nil || !strings.Contains(string(out), "@@done") {
		t.Fatalf("docs/deploy.md blocks: %v\n%s", err, out)
	}

	// Key outputs, by the command in the block.
	checks := []struct{ cmd, want string }{
		{"make publish-examples", "winback-q4: published version 1"},
		{"make publish-examples", "stepwise-dev-weekly-newsletter"},
		{"make publish-examples", "campaigns/winback-q4/bundles/"},
		{"$STACK-StartRun", `"timezone"`},
		{"RUN#$RUN", `"status":"running"`},
		{"$STACK-FailRun", `{"status":"unknown"}`},
		{"devstack run -param", `"status": "succeeded"`},
		{"devstack run -param", "/fileRows/out/manifest.json"},
	}
	for _, c := range checks {
		found := false
		for i, b := range blocks {
			if strings.Contains(b.code, c.cmd) && b.runsHere() {
				found = true
				if !strings.Contains(outputs[i], c.want) {
					t.Errorf("docs/deploy.md:%d (%s): output lacks %q:\n%s", b.line, c.cmd, c.want, outputs[i])
				}
			}
		}
		if !found {
			t.Errorf("docs/deploy.md: no runnable block runs %q", c.cmd)
		}
	}

	// Every published definition names runtime plans that are in S3.
	var st struct{ Moto, S3, Bucket string }
	raw, _ := os.ReadFile(filepath.Join(dir, "stack.json"))
	if err := json.Unmarshal(raw, &st); err != nil || st.Moto == "" {
		t.Fatalf("stack.json: %v %s", err, raw)
	}
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	sf := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = aws.String(st.Moto) })
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(st.S3), true })
	list, err := sf.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.StateMachines) < 4 {
		t.Errorf("%d state machines published, want the 4 examples", len(list.StateMachines))
	}
	for _, m := range list.StateMachines {
		d, err := sf.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: m.StateMachineArn})
		if err != nil {
			t.Fatal(err)
		}
		refs := planRefs(t, []byte(aws.ToString(d.Definition)))
		if len(refs) == 0 {
			t.Errorf("%s: the definition names no plan", aws.ToString(m.Name))
		}
		for ref := range refs {
			key := plan.Key(ref[0], ref[1])
			if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(st.Bucket), Key: aws.String(key)}); err != nil {
				t.Errorf("%s names plan %s, not in s3://%s/%s: %v", aws.ToString(m.Name), ref[1], st.Bucket, key, err)
			}
		}
	}
}

// planRefs lists the (campaign, plan digest) pairs of a definition's Task
// parameters.
func planRefs(t *testing.T, def []byte) map[[2]string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(def, &v); err != nil {
		t.Fatalf("definition: %v", err)
	}
	out := map[[2]string]bool{}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			if b, ok := x["plan"].(string); ok {
				c, _ := x["campaign"].(string)
				out[[2]string{c, b}] = true
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// TestShellBlocks: a marker belongs to the next shell block only, and only
// when nothing but blank lines stands between them; other languages' blocks
// are skipped whole.
func TestShellBlocks(t *testing.T) {
	md := "intro\n\n<!-- not runnable here: needs an account -->\n\n```sh\nsam deploy\n```\n\n```sh\nmake dev\n```\n" +
		"<!-- a note -->\nprose\n```sh\necho hi\n```\n```yaml\n```sh\nnot: a block\n```\n" +
		"<!-- started by the test: x -->\n```bash\nmake dev\n```\n"
	got, err := shellBlocks([]byte(md))
	if err != nil {
		t.Fatal(err)
	}
	want := []docBlock{{5, "not runnable here: needs an account", "sam deploy\n"}, {9, "", "make dev\n"}, {14, "", "echo hi\n"},
		{22, "started by the test: x", "make dev\n"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("blocks:\n got %v\nwant %v", got, want)
	}
	if _, err := shellBlocks([]byte("```sh\nopen\n")); err == nil {
		t.Error("an unterminated block is no error")
	}
}

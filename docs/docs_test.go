// Package docs_test runs the documents: every shell block of README.md and
// docs/*.md, as written, on a fresh copy of the repository.
package docs_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/freeport"
)

// Markers, an HTML comment on the line before a block's fence (blank lines
// between allowed). The first two are infra/awsshape TestDeployDocs's.
const (
	markNotRunnable = "not runnable here:"   // and the reason
	markStarted     = "started by the test:" // TestDeployDocs starts the command itself
	markRunBy       = "run by "              // another test runs the block: "run by infra/awsshape TestDeployDocs"
)

// runElsewhere: documents whose blocks another test runs, and its name as
// the marker says it. Every block there must be marked; this test runs none.
var runElsewhere = map[string]string{
	"docs/deploy.md": "infra/awsshape TestDeployDocs",
}

// block is one shell block of a document.
type block struct {
	doc     string // path in the repository
	line    int    // of the opening fence
	console bool   // ```console: "$ " commands, each followed by its expected output
	marker  string
	code    string
}

func (b block) where() string { return fmt.Sprintf("%s:%d", b.doc, b.line) }

var (
	commentLine = regexp.MustCompile(`^<!--\s*(.*?)\s*-->$`)
	shellLangs  = map[string]bool{"sh": true, "bash": true, "shell": true, "zsh": true, "console": true, "shell-session": true}
	// An unlabelled block that looks like commands: it must say it is shell.
	commandLike = regexp.MustCompile(`^(\$ |make( |$)|go (run|test|build|install) |\./|export |curl |[A-Z_]+=\S* )`)
)

// shellBlocks extracts the shell blocks of a Markdown document, each with
// the comment before its fence.
func shellBlocks(doc string, data []byte) ([]block, error) {
	var out []block
	sc := bufio.NewScanner(bytes.NewReader(data))
	var cur *block
	var unlabelled *block
	comment := ""
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		t := strings.TrimSpace(l)
		switch {
		case cur != nil && t == "```":
			out = append(out, *cur)
			cur, comment = nil, ""
		case cur != nil:
			cur.code += l + "\n"
		case unlabelled != nil && t == "```":
			unlabelled, comment = nil, ""
		case unlabelled != nil:
			if commandLike.MatchString(t) || (strings.HasPrefix(t, "stepwise ") && !strings.Contains(t, "[")) {
				return nil, fmt.Errorf("%s:%d: a block of commands without a language: label it ```sh (or ```console) so that it is run or marked", doc, unlabelled.line)
			}
		case strings.HasPrefix(t, "```"):
			lang := strings.TrimSpace(strings.TrimPrefix(t, "```"))
			switch {
			case shellLangs[lang]:
				cur = &block{doc: doc, line: n, marker: comment, console: lang == "console" || lang == "shell-session"}
			case lang == "":
				unlabelled = &block{line: n}
			default: // another language: skip to its end
				for sc.Scan() {
					n++
					if strings.TrimSpace(sc.Text()) == "```" {
						break
					}
				}
				comment = ""
			}
		case commentLine.MatchString(t):
			comment = commentLine.FindStringSubmatch(t)[1]
		case t != "":
			comment = ""
		}
	}
	if cur != nil || unlabelled != nil {
		return nil, fmt.Errorf("%s: unterminated code block", doc)
	}
	return out, sc.Err()
}

// consoleCmd is one "$ " command of a console block and the output lines
// expected from it.
type consoleCmd struct {
	cmd    string
	expect []string
}

func parseConsole(b block) ([]consoleCmd, error) {
	var out []consoleCmd
	for i, l := range strings.Split(strings.TrimRight(b.code, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "$ "):
			out = append(out, consoleCmd{cmd: strings.TrimPrefix(l, "$ ")})
		case len(out) == 0:
			return nil, fmt.Errorf("%s: line %d of the block: a console block starts with a \"$ \" command", b.where(), i+1)
		case strings.HasPrefix(l, "> "): // a command's continuation
			out[len(out)-1].cmd += "\n" + strings.TrimPrefix(l, "> ")
		case strings.TrimSpace(l) != "":
			out[len(out)-1].expect = append(out[len(out)-1].expect, strings.TrimRight(l, " "))
		}
	}
	return out, nil
}

// outputPattern makes an expected line a pattern of a whole output line:
// literal, with "..." for any text.
func outputPattern(line string) *regexp.Regexp {
	parts := strings.Split(line, "...")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// matchOutput checks that the expected lines are lines of got, in order
// (other lines may come between; a line of just "..." is any lines).
func matchOutput(expect []string, got string) error {
	lines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	i := 0
	for _, e := range expect {
		if strings.TrimSpace(e) == "..." {
			continue
		}
		re := outputPattern(e)
		for i < len(lines) && !re.MatchString(strings.TrimRight(lines[i], " ")) {
			i++
		}
		if i == len(lines) {
			return fmt.Errorf("expected the line %q (after the lines matched before it)", e)
		}
		i++
	}
	return nil
}

// repoRoot is the repository's folder (this package is its docs/ folder).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("not in the repository's docs folder: %v", err)
	}
	return root
}

// documents lists README.md and docs/*.md, in the repository's paths.
func documents(t *testing.T, root string) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, d := range docs {
		out = append(out, filepath.ToSlash(strings.TrimPrefix(d, root+string(filepath.Separator))))
	}
	sort.Strings(out[1:])
	return out
}

// toRun sorts the blocks of every document: those this test runs, by
// document, and the problems with markers.
func toRun(t *testing.T, root string) (map[string][]block, []string) {
	t.Helper()
	run := map[string][]block{}
	var problems []string
	for _, doc := range documents(t, root) {
		data, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := shellBlocks(doc, data)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		other := runElsewhere[doc]
		for _, b := range blocks {
			switch m := b.marker; {
			case strings.HasPrefix(m, markNotRunnable):
				if strings.TrimSpace(strings.TrimPrefix(m, markNotRunnable)) == "" {
					problems = append(problems, b.where()+": say why the block is not runnable here")
				}
			case other != "" && (m == markRunBy+other || strings.HasPrefix(m, markStarted)):
				// The other test's.
			case other != "":
				problems = append(problems, fmt.Sprintf("%s: %s runs this document's blocks: mark the block <!-- %s%s --> or <!-- %s REASON -->",
					b.where(), other, markRunBy, other, markNotRunnable))
			case m != "" && (strings.HasPrefix(m, markRunBy) || strings.HasPrefix(m, markStarted)):
				problems = append(problems, fmt.Sprintf("%s: %q: this test runs %s; only %s's blocks are run by another test", b.where(), m, doc, keys(runElsewhere)))
			default:
				run[doc] = append(run[doc], b)
			}
		}
	}
	return run, problems
}

func keys(m map[string]string) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// TestDocMarkers: every shell block is run by TestDocs (or by the test the
// marker names), or marked not runnable here with the reason.
func TestDocMarkers(t *testing.T) {
	root := repoRoot(t)
	run, problems := toRun(t, root)
	for _, p := range problems {
		t.Error(p)
	}
	if len(run["README.md"]) < 3 || len(run["docs/api.md"]) < 2 {
		t.Errorf("README.md and docs/api.md have %d and %d runnable blocks: their walk-throughs are gone?", len(run["README.md"]), len(run["docs/api.md"]))
	}
}

func TestShellBlocks(t *testing.T) {
	doc := "intro\n<!-- not runnable here: needs AWS -->\n\n```sh\naws s3 ls\n```\ntext\n```yaml\na: 1\n```\n" +
		"```console\n$ echo hi   # a comment\nhi\n$ printf 'a\\nb\\n'\n...\nb\n```\n"
	bs, err := shellBlocks("x.md", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].marker != "not runnable here: needs AWS" || bs[0].code != "aws s3 ls\n" || !bs[1].console || bs[1].marker != "" || bs[1].line != 11 {
		t.Fatalf("%+v", bs)
	}
	cmds, err := parseConsole(bs[1])
	if err != nil || len(cmds) != 2 || cmds[0].cmd != "echo hi   # a comment" || len(cmds[1].expect) != 2 {
		t.Fatalf("%+v %v", cmds, err)
	}
	if err := matchOutput([]string{"run ...  SUCCEEDED", "...", "done"}, "x\nrun 01ab  SUCCEEDED\ny\ndone\n"); err != nil {
		t.Error(err)
	}
	if err := matchOutput([]string{"done", "run ...  SUCCEEDED"}, "run 01ab  SUCCEEDED\ndone\n"); err == nil {
		t.Error("lines out of order matched")
	}
	if _, err := shellBlocks("y.md", []byte("```\nmake demo\n```\n")); err == nil {
		t.Error("an unlabelled block of commands is accepted")
	}
	if _, err := shellBlocks("y.md", []byte("```\nstepwise run CAMPAIGN [--test]\n```\n")); err != nil {
		t.Errorf("a synopsis is refused: %v", err)
	}
}

// Tools the documents' commands use; infra/setup.sh (make setup) installs
// the ones Go does not bring.
var tools = []string{"bash", "git", "make", "gcc", "curl", "jq", "openssl", "go"}

// require skips (fails under CI) when why is not empty.
func require(t *testing.T, why string) {
	t.Helper()
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// TestDocs runs the documents' shell blocks as written, each document in
// order in one bash (set -euo pipefail), on a fresh copy of the repository's
// tracked files, with a fresh HOME and GOPATH. README.md starts with no
// stepwise on PATH (it installs one); the other documents have the freshly
// built binary on PATH, as after the README. Console blocks check their
// expected output. A server a document starts on 127.0.0.1:8080 listens on a
// free port instead (the port is replaced in that document's blocks), and
// what a document leaves in the background is stopped. Go builds use the
// module and build caches, never the network.
func TestDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs the documents (about a minute)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			require(t, tool+" is not on PATH (make setup installs what the documents need)")
		}
	}
	root := repoRoot(t)
	run, problems := toRun(t, root)
	if len(problems) > 0 {
		t.Fatalf("%s (TestDocMarkers)", problems[0])
	}
	base := t.TempDir()
	goEnv := goEnvironment(t, filepath.Join(base, "gopath"))

	// The freshly built binary, for the documents after the README.
	bin := filepath.Join(base, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "stepwise"), "./cmd/stepwise")
	build.Dir, build.Env = root, append(baseEnv(base), goEnv...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/stepwise: %v\n%s", err, out)
	}

	docs := make([]string, 0, len(run))
	for d := range run {
		docs = append(docs, d)
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i] == "README.md" || (docs[j] != "README.md" && docs[i] < docs[j]) })
	for _, doc := range docs {
		t.Run(strings.TrimSuffix(filepath.Base(doc), ".md"), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "stepwise")
			copyTracked(t, root, dir)
			home := t.TempDir()
			gopath := t.TempDir()
			path := cleanPath()
			if doc != "README.md" {
				path = bin + string(os.PathListSeparator) + path
			}
			env := append(baseEnv(home), goEnvironment(t, gopath)...)
			env = append(env, "PATH="+path)
			runDocument(t, doc, run[doc], dir, env)
		})
	}
}

// runDocument runs the blocks of one document in dir and checks the
// expected output of its console blocks.
func runDocument(t *testing.T, doc string, blocks []block, dir string, env []string) {
	outDir := t.TempDir()
	port := freePort(t)
	addr := strings.NewReplacer("127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", port), "localhost:8080", fmt.Sprintf("localhost:%d", port))
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	// What a block started in the background stops with the document.
	script.WriteString("trap 'for p in $(jobs -p); do kill $p 2>/dev/null || true; done; wait' EXIT\n")
	type check struct {
		where, file string
		expect      []string
	}
	var checks []check
	for i, b := range blocks {
		fmt.Fprintf(&script, "printf '\\n@@ %s\\n'\n", b.where())
		if !b.console {
			script.WriteString(addr.Replace(b.code))
			continue
		}
		cmds, err := parseConsole(b)
		if err != nil {
			t.Fatal(err)
		}
		for k, c := range cmds {
			file := filepath.Join(outDir, fmt.Sprintf("%d.%d", i, k))
			// A group, not a subshell: cd and export last, as typed.
			fmt.Fprintf(&script, "printf '$ %%s\\n' %s\n{ %s\n} >%s 2>&1\ncat %s\n",
				shellQuote(c.cmd), addr.Replace(c.cmd), shellQuote(file), shellQuote(file))
			checks = append(checks, check{fmt.Sprintf("%s `%s`", b.where(), c.cmd), file, c.expect})
		}
	}
	script.WriteString("printf '\\n@@ done\\n'\n")

	timeout := 5 * time.Minute
	if d, ok := t.Deadline(); ok && time.Until(d)-10*time.Second < timeout {
		timeout = time.Until(d) - 10*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &out, nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // anything left behind
	}
	t.Logf("%s: %s", doc, time.Since(start).Round(time.Second))
	if testing.Verbose() {
		t.Logf("output:\n%s", tail(out.String(), 400))
	}
	if err != nil || !strings.Contains(out.String(), "\n@@ done\n") {
		failed := ""
		for _, c := range checks { // a console command's output is in its file until it ends
			if b, err := os.ReadFile(c.file); err == nil {
				failed = fmt.Sprintf("\nthe output of the last console command run, %s:\n%s", c.where, tail(string(b), 40))
			}
		}
		t.Fatalf("%s: a command failed (%v); the last \"@@\" line is its block:\n%s%s", doc, err, tail(out.String(), 80), failed)
	}
	for _, c := range checks {
		got, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if err := matchOutput(c.expect, string(got)); err != nil {
			t.Errorf("%s: %v; the output:\n%s", c.where, err, got)
		}
	}
}

// copyTracked copies the files git tracks in root, as they are in the
// working tree (what a clone of the working tree's state holds), to dst.
func copyTracked(t *testing.T, root, dst string) {
	t.Helper()
	ls := exec.Command("git", "ls-files", "-z")
	ls.Dir = root
	list, err := ls.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		} else if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, to); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := copyFile(src, to, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// baseEnv is the test's environment without Stepwise, Go or AWS settings
// (a developer's STEPWISE_* would change what the commands do), with home
// as HOME.
func baseEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "STEPWISE_") || strings.HasPrefix(k, "GO") || strings.HasPrefix(k, "AWS_") ||
			k == "HOME" || k == "PATH" || k == "CGO_ENABLED" || k == "XDG_CONFIG_HOME" || k == "XDG_CACHE_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "PATH="+cleanPath())
}

// goEnvironment points Go at a fresh GOPATH (where go install puts
// binaries) but this machine's module and build caches, with the network
// off. -trimpath makes the build cache serve the copies' builds too.
func goEnvironment(t *testing.T, gopath string) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	v := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(v) != 2 {
		t.Fatalf("go env: %q", out)
	}
	return []string{"GOPATH=" + gopath, "GOMODCACHE=" + v[0], "GOCACHE=" + v[1], "GOPROXY=off", "GOTOOLCHAIN=local",
		"GOFLAGS=-mod=readonly -trimpath -buildvcs=false", "CGO_ENABLED=1"}
}

// cleanPath is PATH without folders holding a stepwise command (the
// README must install its own).
func cleanPath() string {
	var keep []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "stepwise")); err == nil || d == "" {
			continue
		}
		keep = append(keep, d)
	}
	return strings.Join(keep, string(os.PathListSeparator))
}

// freePort is a port below the ephemeral range (freeport.Ports): a
// document's server binds it seconds later, and a port of that range may
// meanwhile serve as a connection's source.
func freePort(t *testing.T) int {
	t.Helper()
	p, err := freeport.Ports(1)
	if err != nil {
		t.Fatal(err)
	}
	return p[0]
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

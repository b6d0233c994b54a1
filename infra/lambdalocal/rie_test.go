package lambdalocal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/testenv"
)

// echoBootstrap builds testdata/echo (a tiny Go Lambda) with the Builder,
// checking that a second build comes from the cache.
func echoBootstrap(t *testing.T) (root, rie, bootstrap string) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rie, err = lambdalocal.FindRIE(root)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	b := &lambdalocal.Builder{Root: root, CacheDir: t.TempDir()}
	ctx := context.Background()
	pkg := "./infra/lambdalocal/testdata/echo"
	built, err := b.Build(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	e := built["github.com/stepwise-run/stepwise/infra/lambdalocal/testdata/echo"]
	if e.Path == "" || e.Cached || e.CGO || e.Size == 0 {
		t.Fatalf("first build: %+v", e)
	}
	again, err := b.Build(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	if a := again["github.com/stepwise-run/stepwise/infra/lambdalocal/testdata/echo"]; !a.Cached || a.Path != e.Path {
		t.Fatalf("second build not from the cache: %+v", a)
	}
	return root, rie, e.Path
}

// TestFunctionsUnderRIE runs the echo Lambda under RIE behind the router:
// results, named errors (RIE sends no X-Amz-Function-Error; the router adds
// it), concurrent callers (serialized: RIE would crash) and the function's
// environment.
func TestFunctionsUnderRIE(t *testing.T) {
	_, rie, boot := echoBootstrap(t)
	ctx := context.Background()
	fns, err := lambdalocal.StartFunctions(ctx, lambdalocal.FunctionsOptions{RIE: rie,
		Functions: []lambdalocal.Function{{Name: "Echo", Bootstrap: boot, Env: map[string]string{"ECHO_ENV": "one"}}, {Name: "Other", Bootstrap: boot}},
		Env:       map[string]string{"ECHO_ENV": "all"}, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer fns.Close()
	c := client(fns.URL)
	out := invoke(t, c, "arn:aws:lambda:us-east-1:123456789012:function:stepwise-Echo", `{"x":1}`)
	var got struct {
		Function string          `json:"function"`
		Input    json.RawMessage `json:"input"`
		Env      string          `json:"env"`
	}
	if err := json.Unmarshal(out.Payload, &got); err != nil || got.Function != "Echo" || string(got.Input) != `{"x":1}` || got.Env != "one" {
		t.Errorf("echo: %s (%v)", out.Payload, err)
	}
	if out := invoke(t, c, "Other", `{}`); !json.Valid(out.Payload) || string(out.Payload) == "" {
		t.Errorf("other: %s", out.Payload)
	}
	out = invoke(t, c, "Echo", `{"fail":"yes"}`)
	if out.FunctionError == nil || lambdalocal.ErrorTypeOf(out.Payload) != "Retryable" {
		t.Errorf("named error: %v %s", out.FunctionError, out.Payload)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out := invoke(t, c, "Echo", `{"sleepMs":10}`); out.FunctionError != nil {
				t.Errorf("concurrent call: %s", out.Payload)
			}
		}()
	}
	wg.Wait()
	if d := fns.RIEs["Echo"].FirstInvoke(); d <= 0 || d > 10*time.Second {
		t.Errorf("first invoke took %s", d)
	}
	if n := len(fns.Router.Invocations()); n != 11 {
		t.Errorf("%d invocations, want 11", n)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(boot), "bootstrap")); err != nil {
		t.Error(err)
	}
}

// TestStrictHidesZoneinfo: under Strict a function sees no time zone
// database on disk, as on provided.al2023, so a bootstrap that embeds none
// cannot load Europe/Paris; without Strict it can (the host has the files).
func TestStrictHidesZoneinfo(t *testing.T) {
	_, rie, boot := echoBootstrap(t)
	if err := lambdalocal.SandboxAvailable(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// The emulator itself under /tmp too (a checkout there): the strict /tmp
	// mount must not hide it.
	rieData, err := os.ReadFile(rie)
	if err != nil {
		t.Fatal(err)
	}
	rie = filepath.Join(t.TempDir(), "aws-lambda-rie")
	if err := os.WriteFile(rie, rieData, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, strict := range []bool{false, true} {
		r, err := lambdalocal.StartRIE(ctx, lambdalocal.RIEOptions{Bin: rie, Bootstrap: boot, Name: "Echo", Strict: strict})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Invoke(ctx, []byte(`{"zone":"Europe/Paris"}`))
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		failed := lambdalocal.ErrorTypeOf(res.Payload) != ""
		if failed != strict {
			t.Errorf("strict=%v: %s", strict, res.Payload)
		}
	}
}

// TestStrictTmp: under Strict each function has a /tmp of its TmpSize, kept
// across its warm invocations, private to it, and full at its size (the
// write fails with ENOSPC, as on Lambda).
func TestStrictTmp(t *testing.T) {
	_, rie, boot := echoBootstrap(t)
	if err := lambdalocal.SandboxAvailable(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx := context.Background()
	fns, err := lambdalocal.StartFunctions(ctx, lambdalocal.FunctionsOptions{RIE: rie, Strict: true, WorkDir: t.TempDir(),
		Functions: []lambdalocal.Function{{Name: "Echo", Bootstrap: boot, TmpSize: 1 << 20}, {Name: "Other", Bootstrap: boot, TmpSize: 2 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	defer fns.Close()
	c := client(fns.URL)
	if out := invoke(t, c, "Echo", `{"writeKB":256,"file":"a"}`); out.FunctionError != nil {
		t.Fatalf("write 256 KiB: %s", out.Payload)
	}
	if out := invoke(t, c, "Echo", `{"writeKB":512,"file":"b"}`); out.FunctionError != nil {
		t.Fatalf("write 512 KiB more: %s", out.Payload)
	}
	u, err := fns.RIEs["Echo"].Tmp()
	if err != nil {
		t.Fatal(err)
	}
	if u.Size != 1<<20 || u.Used < 768<<10 || fmt.Sprint(u.Files) != "[/tmp/a /tmp/b]" {
		t.Errorf("Echo's /tmp after two warm invocations: %+v", u)
	}
	if o, err := fns.RIEs["Other"].Tmp(); err != nil || o.Size != 2<<20 || len(o.Files) != 0 {
		t.Errorf("Other's /tmp: %+v, %v; want its own, empty, of 2 MiB", o, err)
	}
	out := invoke(t, c, "Echo", `{"writeKB":512,"file":"c"}`)
	if out.FunctionError == nil || !strings.Contains(string(out.Payload), "no space left on device") {
		t.Errorf("a write past the 1 MiB /tmp: %v %s, want ENOSPC", out.FunctionError, out.Payload)
	}
}

// TestTimeoutEndsInvocation: RIE ends an invocation at
// AWS_LAMBDA_FUNCTION_TIMEOUT and the function answers again after it; the
// Lambda API's answer is a Sandbox.Timedout function error.
func TestTimeoutEndsInvocation(t *testing.T) {
	_, rie, boot := echoBootstrap(t)
	ctx := context.Background()
	r, err := lambdalocal.StartRIE(ctx, lambdalocal.RIEOptions{Bin: rie, Bootstrap: boot, Name: "Echo", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Invoke(ctx, []byte(`{"sleepMs":600000}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.FunctionError != "Unhandled" || lambdalocal.ErrorTypeOf(res.Payload) != "Sandbox.Timedout" {
		t.Errorf("past the timeout: %q %s", res.FunctionError, res.Payload)
	}
	if res, err = r.Invoke(ctx, []byte(`{}`)); err != nil || res.FunctionError != "" {
		t.Errorf("after a timeout: %v %+v", err, res)
	}
}

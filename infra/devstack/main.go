// Command devstack runs Stepwise AWS-style on a developer's machine (`make
// dev`): every function's bootstrap under the Lambda Runtime Interface
// Emulator behind a Lambda API router, S3 on gofakes3 (files under .dev/s3),
// DynamoDB Local (.dev/ddb), a fake SESv2 that forwards to mailpit when
// mailpit is installed. It prints the environment that points the AWS SDKs
// and CLI at it.
//
//	go run ./infra/devstack                      start the stack (Ctrl-C stops it)
//	eval "$(go run ./infra/devstack env)"        point the AWS CLI and SDKs at it
//	go run ./infra/devstack run [-param k=v]... CAMPAIGN
//	                                             publish a campaign's bundle to the
//	                                             stack's S3 and execute its ASL with
//	                                             aws-local-stepfunctions
//
// The state folder is .dev, or $STEPWISE_DEV_DIR. Step Functions and
// EventBridge Scheduler, which the Api function publishes to, are
// moto_server's (when it is installed).
//
// Prerequisites: infra/setup.sh (node tools, DynamoDB Local) and
// infra/setup-rie.sh (RIE, gofakes3).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/aws/dynamostate"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/s3blob"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// stack is what `run` needs to reach a running stack (.dev/stack.json).
type stack struct {
	Router   string `json:"router"`
	S3       string `json:"s3"`
	DynamoDB string `json:"dynamodb"`
	SESv2    string `json:"sesv2"`
	SNS      string `json:"sns"`
	SMS      string `json:"sms"`
	Mailpit  string `json:"mailpit,omitempty"`
	// Moto serves Step Functions and EventBridge Scheduler (publishing).
	Moto   string `json:"moto,omitempty"`
	Table  string `json:"table"`
	Bucket string `json:"bucket"`
	// Stack names the functions (Stack-Name) and the published state
	// machines (Stack-campaign), as the deployed stack's name does.
	Stack string `json:"stack"`
}

// devDir is the default state folder: $STEPWISE_DEV_DIR or .dev.
func devDir() string {
	if d := os.Getenv("STEPWISE_DEV_DIR"); d != "" {
		return d
	}
	return ".dev"
}

// devStackName names the functions and state machines as a stack would.
const devStackName = "stepwise-dev"

func main() {
	log.SetFlags(0)
	log.SetPrefix("devstack: ")
	if len(os.Args) > 1 && os.Args[1] == "run" {
		if err := runCampaign(os.Args[2:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "env" {
		if err := printStackEnv(os.Args[2:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := serve(os.Args[1:]); err != nil {
		log.Fatal(err)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("devstack", flag.ExitOnError)
	dir := fs.String("dir", devDir(), "state folder (S3 files, DynamoDB data, logs)")
	routerAddr := fs.String("router", "127.0.0.1:9400", "Lambda API router address")
	s3Port := fs.Int("s3", 9500, "gofakes3 port")
	ddbPort := fs.Int("dynamodb", 8000, "DynamoDB Local port")
	sesAddr := fs.String("ses", "127.0.0.1:9600", "fake SESv2 address")
	snsAddr := fs.String("sns", "127.0.0.1:9601", "fake SNS address (push)")
	smsAddr := fs.String("sms", "127.0.0.1:9602", "fake End User Messaging SMS address")
	motoPort := fs.Int("moto", 9700, "moto_server port (Step Functions, EventBridge Scheduler)")
	only := fs.String("functions", "", "comma-separated function names (default: all)")
	table := fs.String("table", "stepwise", "DynamoDB table")
	bucket := fs.String("bucket", "stepwise", "S3 bucket")
	fs.Parse(args)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return errors.New("run from the repository root (make dev)")
	}
	rie, err := lambdalocal.FindRIE(root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(*dir, "functions.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()

	// Emulators.
	ddb, err := lambdalocal.StartDynamoDBLocal(ctx, root, *ddbPort, filepath.Join(*dir, "ddb"), logf)
	if err != nil {
		return err
	}
	closers = append(closers, ddb.Close)
	st := stack{DynamoDB: "http://" + ddb.Addr, Table: *table, Bucket: *bucket, Router: "http://" + *routerAddr, Stack: devStackName}
	s3addr := "127.0.0.1:" + strconv.Itoa(*s3Port)
	bin := lambdalocal.FindTool(root, "gofakes3")
	if bin == "" {
		return errors.New("gofakes3 not found; run infra/setup-rie.sh")
	}
	s3dir, _ := filepath.Abs(filepath.Join(*dir, "s3"))
	s3p, err := lambdalocal.StartProcess(ctx, "gofakes3", s3addr,
		exec.Command(bin, "-host", s3addr, "-backend", "fs", "-fs.path", s3dir, "-fs.create", "-autobucket", "-quiet"), logf, 10*time.Second)
	if err != nil {
		return err
	}
	closers = append(closers, s3p.Close)
	st.S3 = "http://" + s3addr
	ses := &lambdalocal.SESv2{}
	if mp := lambdalocal.FindTool(root, "mailpit"); mp != "" {
		db, _ := filepath.Abs(filepath.Join(*dir, "mail.db"))
		m, err := lambdalocal.StartProcess(ctx, "mailpit", "127.0.0.1:1025", exec.Command(mp, "--smtp", "127.0.0.1:1025", "--listen", "127.0.0.1:8025",
			"--database", db, "--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--disable-version-check"), logf, 10*time.Second)
		if err != nil {
			return err
		}
		closers = append(closers, m.Close)
		ses.SMTPAddr, st.Mailpit = "127.0.0.1:1025", "http://127.0.0.1:8025"
	}
	for _, f := range []struct {
		addr string
		h    http.Handler
	}{{*sesAddr, ses}, {*snsAddr, &lambdalocal.SNS{}}, {*smsAddr, &lambdalocal.SMSVoice{}}} {
		srv := &http.Server{Addr: f.addr, Handler: f.h, ReadHeaderTimeout: 10 * time.Second}
		go srv.ListenAndServe()
		closers = append(closers, srv.Close)
	}
	st.SESv2, st.SNS, st.SMS = "http://"+*sesAddr, "http://"+*snsAddr, "http://"+*smsAddr
	if moto, err := exec.LookPath("moto_server"); err == nil {
		addr := "127.0.0.1:" + strconv.Itoa(*motoPort)
		m, err := lambdalocal.StartProcess(ctx, "moto_server", addr, exec.Command(moto, "-H", "127.0.0.1", "-p", strconv.Itoa(*motoPort)), logf, 60*time.Second)
		if err != nil {
			return err
		}
		closers = append(closers, m.Close)
		st.Moto = "http://" + addr
	} else {
		log.Printf("moto_server not found: the Api function cannot publish (pip install 'moto[server]')")
	}

	// Table and bucket.
	cfg := awsConfig()
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint, o.DisableValidateResponseChecksum = aws.String(st.DynamoDB), true
	})
	if err := dynamostate.New(db, *table).CreateTable(ctx); err != nil {
		return err
	}

	// Functions.
	secret, err := devSecret(filepath.Join(*dir, "unsubscribe.key"))
	if err != nil {
		return err
	}
	fns := lambdafn.Functions(builtin.Registry())
	if *only != "" {
		want := map[string]bool{}
		for _, n := range strings.Split(*only, ",") {
			want[strings.TrimSpace(n)] = true
		}
		var sel []lambdafn.Fn
		for _, f := range fns {
			if want[f.Name] {
				sel = append(sel, f)
			}
		}
		fns = sel
	}
	var pkgs []string
	for _, f := range fns {
		pkgs = append(pkgs, "./functions/"+f.Dir)
	}
	log.Printf("building %d bootstraps (cached in %s)", len(pkgs), lambdalocal.DefaultCacheDir())
	built, err := (&lambdalocal.Builder{Root: root, CacheDir: lambdalocal.DefaultCacheDir(), Log: os.Stderr}).Build(ctx, pkgs...)
	if err != nil {
		return err
	}
	env := map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_S3": st.S3, "AWS_ENDPOINT_URL_DYNAMODB": st.DynamoDB, "AWS_ENDPOINT_URL_SESV2": st.SESv2,
		"AWS_ENDPOINT_URL_SNS": st.SNS, "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2": st.SMS,
		"TABLE_NAME": *table, "BUCKET": *bucket, "S3_PATH_STYLE": "true",
		"SES_CONFIGURATION_SET": "stepwise-dev", "PUBLIC_URL": "http://127.0.0.1:8080",
		"UNSUBSCRIBE_SECRET":            secret,
		"PUSH_PLATFORM_APPLICATION_ARN": "arn:aws:sns:us-east-1:000000000000:app/GCM/stepwise-dev",
		// What the template gives the functions and the Api (publishing).
		"STATE_MACHINE_PREFIX":   "arn:aws:states:us-east-1:" + motoAccount + ":stateMachine:" + devStackName + "-",
		"NAME_PREFIX":            devStackName + "-",
		"SCHEDULE_GROUP":         "default",
		"STATE_MACHINE_ROLE_ARN": "arn:aws:iam::" + motoAccount + ":role/" + devStackName + "-StateMachineRole",
		"SCHEDULER_ROLE_ARN":     "arn:aws:iam::" + motoAccount + ":role/" + devStackName + "-SchedulerRole",
		"FUNCTION_ARN_PREFIX":    "arn:aws:lambda:us-east-1:" + motoAccount + ":function:" + devStackName + "-",
	}
	if st.Moto != "" {
		env["AWS_ENDPOINT_URL_SFN"], env["AWS_ENDPOINT_URL_SCHEDULER"] = st.Moto, st.Moto
	}
	var specs []lambdalocal.Function
	for _, f := range fns {
		specs = append(specs, lambdalocal.Function{Name: f.Name, Bootstrap: built["github.com/stepwise-run/stepwise/functions/"+f.Dir].Path,
			MemoryMB: memory(f.Family), Timeout: 15 * time.Minute})
	}
	work, _ := filepath.Abs(filepath.Join(*dir, "work"))
	running, err := lambdalocal.StartFunctions(ctx, lambdalocal.FunctionsOptions{RIE: rie, Functions: specs, Env: env, WorkDir: work, Addr: *routerAddr, Output: logf})
	if err != nil {
		return err
	}
	closers = append(closers, func() error { running.Close(); return nil })

	data, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(filepath.Join(*dir, "stack.json"), data, 0o644); err != nil {
		return err
	}
	printEnv(os.Stdout, st, len(specs), *dir)
	<-ctx.Done()
	log.Printf("stopping")
	return nil
}

// memory mirrors template.yaml's sizing by family (DuckDB sizes its memory
// limit from it).
func memory(family string) int {
	switch family {
	case "targeting", "data":
		return 3008
	case "channel":
		return 1024
	}
	return 256
}

func printEnv(w io.Writer, st stack, n int, dir string) {
	fmt.Fprintf(w, "\n%d functions behind %s (logs: %s/functions.log)\n", n, st.Router, dir)
	if st.Mailpit != "" {
		fmt.Fprintf(w, "mailpit: %s\n", st.Mailpit)
	}
	fmt.Fprintf(w, "\n# Point the AWS SDKs and CLI at the stack (or: eval \"$(go run ./infra/devstack env)\"):\n")
	writeExports(w, st)
	fmt.Fprintf(w, `
# Publish the examples through the Api function (bundle to S3, state machine on moto):
make publish-examples
# Run a campaign AWS-style (bundle to S3, ASL on aws-local-stepfunctions):
aws s3 cp examples/files/leads.csv s3://%s/uploads/leads.csv
go run ./infra/devstack run -param file=s3://%s/uploads/leads.csv examples/import.yaml
`, st.Bucket, st.Bucket)
}

// writeExports writes the shell exports that point the AWS CLI (v2) and
// SDKs at st, and name its stack, bucket and table as docs/deploy.md uses.
func writeExports(w io.Writer, st stack) {
	fmt.Fprintf(w, "export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_PAGER=\"\"\n")
	fmt.Fprintf(w, "export AWS_ENDPOINT_URL_LAMBDA=%s AWS_ENDPOINT_URL_S3=%s AWS_ENDPOINT_URL_DYNAMODB=%s AWS_ENDPOINT_URL_SESV2=%s\n",
		st.Router, st.S3, st.DynamoDB, st.SESv2)
	if st.Moto != "" {
		fmt.Fprintf(w, "export AWS_ENDPOINT_URL_SFN=%s AWS_ENDPOINT_URL_SCHEDULER=%s\n", st.Moto, st.Moto)
	}
	fmt.Fprintf(w, "export STACK=%s TABLE_NAME=%s BUCKET=%s\n", st.Stack, st.Table, st.Bucket)
	// The AWS CLI before 2.13 ignores AWS_ENDPOINT_URL_*: a function passes them.
	if root, err := os.Getwd(); err == nil {
		fmt.Fprintf(w, ". %s\n", shellQuote(filepath.Join(root, "infra", "aws-endpoints.sh")))
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// printStackEnv prints the exports of the running stack (devstack env).
func printStackEnv(args []string) error {
	fs := flag.NewFlagSet("devstack env", flag.ExitOnError)
	dir := fs.String("dir", devDir(), "state folder of the running stack")
	fs.Parse(args)
	st, err := readStack(*dir)
	if err != nil {
		return err
	}
	writeExports(os.Stdout, st)
	return nil
}

// readStack reads the running stack's addresses (dir/stack.json).
func readStack(dir string) (stack, error) {
	var st stack
	data, err := os.ReadFile(filepath.Join(dir, "stack.json"))
	if err != nil {
		return st, fmt.Errorf("no running stack (%v); start it with make dev", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%s: %v", filepath.Join(dir, "stack.json"), err)
	}
	if st.Stack == "" {
		st.Stack = devStackName
	}
	return st, nil
}

// devSecret is the stack's unsubscribe signing secret, made on first use.
func devSecret(file string) (string, error) {
	if b, err := os.ReadFile(file); err == nil && len(b) >= 32 {
		return string(b), nil
	}
	b := make([]byte, 24)
	rand.Read(b)
	s := hex.EncodeToString(b)
	return s, os.WriteFile(file, []byte(s), 0o600)
}

// motoAccount is the account moto_server answers for.
const motoAccount = "123456789012"

func awsConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
}

type params map[string]any

func (p params) String() string { return fmt.Sprint(map[string]any(p)) }

func (p params) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("%q is not NAME=VALUE", s)
	}
	p[k] = v
	return nil
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9]+)FunctionArn\}`)

func runCampaign(args []string) error {
	fs := flag.NewFlagSet("devstack run", flag.ExitOnError)
	dir := fs.String("dir", devDir(), "state folder of the running stack")
	catalog := fs.String("catalog", "", "catalog file (default catalog.yaml beside the campaign)")
	waitMs := fs.Int("wait-ms", 100, "how long every Wait state lasts, in ms")
	ps := params{}
	fs.Var(ps, "param", "run parameter NAME=VALUE (repeatable)")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return errors.New("usage: devstack run [-param NAME=VALUE]... CAMPAIGN")
	}
	st, err := readStack(*dir)
	if err != nil {
		return err
	}
	file := fs.Arg(0)
	if *catalog == "" {
		*catalog = filepath.Join(filepath.Dir(file), "catalog.yaml")
	}
	p, diags := compile.CompileFiles(context.Background(), file, *catalog, builtin.Registry(), builtin.Checkers(), builtin.Schemas())
	if diags.HasErrors() {
		return fmt.Errorf("%s:\n%v", file, diags)
	}
	ctx := context.Background()
	s3c := s3.NewFromConfig(awsConfig(), func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(st.S3), true })
	if err := (&compile.Publisher{Blob: s3blob.New(s3c, st.Bucket, "")}).Publish(ctx, p.Campaign.ID, p.Bundle); err != nil {
		return fmt.Errorf("publish the bundle: %w", err)
	}
	def := placeholder.ReplaceAll(p.JSON, []byte("arn:aws:lambda:us-east-1:000000000000:function:"+st.Stack+"-$1"))
	runID := state.NewRunID()
	input, _ := json.Marshal(runner.ExecutionInput{Params: ps, RunID: runID})
	root, _ := os.Getwd()
	start := time.Now()
	outs, err := lambdalocal.RunSFN(ctx, root, st.Router, []lambdalocal.Execution{{Definition: def, Input: input}},
		lambdalocal.SFNOptions{WaitMs: *waitMs, RetryMs: 1000, Timeout: 30 * time.Minute})
	if err != nil {
		return err
	}
	o := outs[0]
	var states []string
	entered := 0
	for _, e := range o.Events {
		switch e.Type {
		case "StateRetried":
			states = append(states, e.State)
		case "StateEntered":
			entered++
		}
	}
	sort.Strings(states)
	if len(states) > 0 {
		fmt.Fprintf(os.Stderr, "retried: %s\n", strings.Join(states, ", "))
	}
	fmt.Fprintf(os.Stderr, "%s: %d states in %s\n", p.Campaign.ID, entered, time.Since(start).Round(time.Millisecond))
	if o.Error != "" {
		// The run record says why (the execution only knows it failed).
		db := dynamodb.NewFromConfig(awsConfig(), func(o *dynamodb.Options) {
			o.BaseEndpoint, o.DisableValidateResponseChecksum = aws.String(st.DynamoDB), true
		})
		store := dynamostate.New(db, st.Table)
		if run, err := store.GetRun(ctx, runID); err == nil && run.Reason != "" {
			fmt.Fprintf(os.Stderr, "run %s %s: %s\n", runID, run.Status, run.Reason)
		}
		if tasks, err := store.ListTasks(ctx, runID); err == nil {
			for _, t := range tasks {
				if t.Error != "" {
					fmt.Fprintf(os.Stderr, "  %s: %s\n", t.Activity, t.Error)
				}
			}
		}
		return fmt.Errorf("execution failed: %s: %s", o.Error, o.Cause)
	}
	var out any
	json.Unmarshal(o.Output, &out)
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
	return nil
}

// Package awsshape_test runs Stepwise the way AWS runs it, on this machine:
// every Lambda bootstrap under the Runtime Interface Emulator behind a Lambda
// API router, the compiled ASL in aws-local-stepfunctions, S3 on gofakes3,
// DynamoDB on DynamoDB Local and email on a fake SESv2. Each campaign's
// counts must equal those of the local executor on the same data.
//
// In IAM mode (startShapeWith, shapeOptions.IAM) S3, DynamoDB, SESv2 and
// SNS run on moto_server with authorization on, each function signing as
// its own IAM user with exactly its template policies (moto_test.go,
// policy_test.go, gate_test.go).
//
// Prerequisites: infra/setup-rie.sh (RIE), infra/setup.sh (node tools,
// DynamoDB Local); for IAM mode moto_server and cfn-lint (Python). Missing
// ones skip the tests, unless CI is set.
package awsshape_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/aws/dynamostate"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/s3blob"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sample.dir != "" {
		os.RemoveAll(sample.dir)
	}
	testenv.Stop()
	os.Exit(code)
}

const (
	module  = "github.com/stepwise-run/stepwise"
	bucket  = "stepwise-shape"
	arnBase = "arn:aws:lambda:us-east-1:123456789012:function:stepwise-shape-"
)

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// require skips t (fails it under CI) when a prerequisite is missing.
func require(t testing.TB, why string) {
	t.Helper()
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("AWS shape: %s", why)
	}
	t.Skipf("AWS shape: %s", why)
}

// strictWhy says why functions cannot run as strictly as on Lambda here.
func strictWhy() string {
	if err := lambdalocal.SandboxAvailable(); err != nil {
		return err.Error()
	}
	return ""
}

func rieBin(t testing.TB) string {
	t.Helper()
	p, err := lambdalocal.FindRIE(repoRoot(t))
	if err != nil {
		require(t, err.Error())
	}
	return p
}

// bootstraps builds (or takes from the cache) the bootstraps of the named
// functions.
func bootstraps(t testing.TB, names ...string) map[string]lambdalocal.Built {
	t.Helper()
	root := repoRoot(t)
	dirs := map[string]string{}
	for _, f := range lambdafn.Functions(builtin.Registry()) {
		dirs[f.Name] = f.Dir
	}
	var pkgs []string
	for _, n := range names {
		d, ok := dirs[n]
		if !ok {
			t.Fatalf("no function %q", n)
		}
		pkgs = append(pkgs, "./functions/"+d)
	}
	b := &lambdalocal.Builder{Root: root, CacheDir: lambdalocal.DefaultCacheDir(), Log: testWriter{t}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	built, err := b.Build(ctx, pkgs...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]lambdalocal.Built{}
	for _, n := range names {
		out[n] = built[module+"/functions/"+dirs[n]]
	}
	return out
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// shape is one AWS-shaped stack: emulators plus the functions under RIE.
type shape struct {
	root   string
	blob   *s3blob.Store
	state  *dynamostate.Store
	ses    *lambdalocal.SESv2
	sns    *lambdalocal.SNS
	sms    *lambdalocal.SMSVoice
	moto   *moto // IAM mode: S3, DynamoDB, SES and SNS are moto's
	fns    *lambdalocal.Functions
	memory map[string]int
	// Requests the functions made (and the test's own uploads).
	s3Requests, dynamoRequests *counter
	env                        map[string]string // the emulators' wiring, in every function's environment
	rie                        string
	table                      string
	tmpSize                    map[string]int64 // a test's /tmp size in bytes by function, instead of the template's
}

// shapeRefs are what the template's !Ref, !GetAtt and !Sub name, here;
// the parameters not listed take their Default.
func (sh *shape) shapeRefs() map[string]string {
	return map[string]string{
		"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
		"AWS::StackName": "stepwise-shape", "AWS::URLSuffix": "amazonaws.com",
		"Table": sh.table, "Bucket": bucket, "ConfigurationSet": "stepwise-shape", "HttpApi": "shape",
		"UnsubscribeSecret":    unsubscribeSecretName,
		"ScheduleGroup":        "stepwise-shape",
		"FeedbackQueue":        "https://sqs.us-east-1.amazonaws.com/123456789012/stepwise-shape-feedback",
		"StateMachineRole.Arn": "arn:aws:iam::123456789012:role/stepwise-shape-states",
		"SchedulerRole.Arn":    "arn:aws:iam::123456789012:role/stepwise-shape-scheduler",
		"AlertTopic":           alertTopic,
		"StateMachineLogs.Arn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/stepwise-shape:*", // as !GetAtt gives it
		// A deployer who sends push sets the platform application.
		"PushPlatformApplicationArn": "arn:aws:sns:us-east-1:123456789012:app/GCM/stepwise-shape",
		// One whose SES quota is raised raises the email rate: at the
		// default 14 a second the examples' 1,500 emails would wait ~110 s
		// on the limiter (pacing is tested in send, and here with
		// SEND_RATE=5 in TestEmailSlicesOutlastInvocations).
		"EmailSendRate": "1000",
	}
}

// templateFunction is function name as template.yaml deploys it: its
// memory, timeout, /tmp size and environment (the template's variables
// over the emulators' wiring).
func (sh *shape) templateFunction(t testing.TB, name, bootstrap string) lambdalocal.Function {
	t.Helper()
	set, err := loadTemplate(t).settings(name+"Function", sh.shapeRefs(),
		map[string]string{unsubscribeSecretName: unsubscribeSecret})
	if err != nil {
		t.Fatal(err)
	}
	env := maps.Clone(sh.env)
	maps.Copy(env, set.Env)
	tmp := int64(set.TmpMB) << 20
	if n, ok := sh.tmpSize[name]; ok {
		tmp = n
	}
	return lambdalocal.Function{Name: name, Bootstrap: bootstrap, MemoryMB: set.Memory, Timeout: set.Timeout, TmpSize: tmp, Env: env}
}

// shapeOptions choose how strict a shape is.
type shapeOptions struct {
	// IAM runs S3, DynamoDB, SESv2 and SNS on moto_server with IAM
	// enforced (moto_test.go): each function signs with the keys of its own
	// IAM user, which carries exactly the policies template.yaml gives its
	// role after the SAM transform (policy_test.go).
	IAM bool
	// Drop removes actions from functions' policies before the users are
	// made (function → actions): the negative tests.
	Drop map[string][]string
	// Over overrides some functions' timeout (when > 0) and environment
	// (on top of the template's).
	Over map[string]lambdalocal.Function
	// TmpSize sizes some functions' /tmp in bytes instead of by the template.
	TmpSize map[string]int64
}

// startShape starts the emulators and the named functions.
func startShape(t *testing.T, names ...string) *shape {
	t.Helper()
	return startShapeWith(t, shapeOptions{}, names...)
}

// startShapeTmp is startShape with the /tmp of some functions sized in
// bytes instead of by the template.
func startShapeTmp(t *testing.T, tmpSize map[string]int64, names ...string) *shape {
	t.Helper()
	return startShapeWith(t, shapeOptions{TmpSize: tmpSize}, names...)
}

// startShapeWith starts a shape as o says.
func startShapeWith(t *testing.T, o shapeOptions, names ...string) *shape {
	t.Helper()
	root := repoRoot(t)
	rie := rieBin(t)
	require(t, lambdalocal.SFNAvailable(root))
	built := bootstraps(t, names...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s3count, ddbCount := &counter{}, &counter{}
	table := testenv.TableName(t)
	var s3srv, ddbSrv, sesSrv, snsSrv *httptest.Server
	var testCreds aws.CredentialsProvider = aws.AnonymousCredentials{}
	var st *dynamostate.Store
	var m *moto
	var stateMachine []policy // IAM mode: the state machines' role
	fnEnv := map[string]map[string]string{}
	if o.IAM {
		m = startMoto(t)
		serve := func(h http.Handler) *httptest.Server {
			s := httptest.NewServer(h)
			t.Cleanup(s.Close)
			return s
		}
		s3srv = serve(countS3(m.handler("s3"), s3count))
		ddbSrv = serve(countDynamoDB(serve(m.handler("dynamodb")).URL, ddbCount))
		sesSrv, snsSrv = serve(m.handler("ses")), serve(m.handler("sns"))
		admin := m.user(t, stack+"-test", []policy{{Name: "test", Statement: []statement{{Effect: "Allow", Action: []string{"*"}, Resource: []string{"*"}}}}})
		testCreds = credentials.StaticCredentialsProvider{Value: admin}
		st = dynamostate.New(dynamodb.New(dynamodb.Options{Region: region, BaseEndpoint: aws.String(m.url), Credentials: testCreds}), table)
		m.bootstrap(t, ctx, testCreds)
		sam := loadSAM(t, map[string]string{"PushPlatformApplicationArn": pushApp, "SenderIdentity": senderIdentity}, map[string]string{"Table": table, "Bucket": bucket})
		pols := sam.mustFunctionPolicies(t)
		sm, err := sam.rolePolicies("StateMachineRole")
		if err != nil {
			t.Fatal(err)
		}
		stateMachine = dropActions(t, "StateMachineRole", sm, o.Drop["StateMachineRole"])
		for _, n := range names {
			ps, ok := pols[n]
			if !ok {
				t.Fatalf("template.yaml: no function %s after the SAM transform", n)
			}
			c := m.user(t, stack+"-"+n, dropActions(t, n, ps, o.Drop[n]))
			fnEnv[n] = map[string]string{"AWS_ACCESS_KEY_ID": c.AccessKeyID, "AWS_SECRET_ACCESS_KEY": c.SecretAccessKey}
		}
	} else {
		ddbEndpoint := testenv.DynamoDB(t)
		faker := gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true))
		s3srv = httptest.NewServer(countS3(faker.Server(), s3count))
		t.Cleanup(s3srv.Close)
		st = dynamostate.New(testenv.DynamoDBClient(t), table)
		ddbSrv = httptest.NewServer(countDynamoDB(ddbEndpoint, ddbCount))
		t.Cleanup(ddbSrv.Close)
	}
	s3c := s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true, Credentials: testCreds})
	if o.IAM {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}

	ses, sns, sms := &lambdalocal.SESv2{}, &lambdalocal.SNS{}, &lambdalocal.SMSVoice{}
	if sesSrv == nil {
		sesSrv, snsSrv = httptest.NewServer(ses), httptest.NewServer(sns)
		t.Cleanup(sesSrv.Close)
		t.Cleanup(snsSrv.Close)
	}
	// moto has no End User Messaging SMS (pinpoint-sms-voice-v2): the fake
	// serves it in both modes, unauthorized.
	smsSrv := httptest.NewServer(sms)
	t.Cleanup(smsSrv.Close)

	// The unsubscribe secret the template's functions read by ARN
	// (UNSUBSCRIBE_SECRET_ARN): in moto's Secrets Manager.
	secretsURL := ""
	if m != nil {
		secretsURL = m.url
	} else {
		secretsURL = testenv.Moto(t)
	}
	sm := secretsmanager.New(secretsmanager.Options{Region: region, BaseEndpoint: aws.String(secretsURL), Credentials: testCreds})
	if m == nil {
		sm = secretsmanager.New(secretsmanager.Options{Region: region, BaseEndpoint: aws.String(secretsURL),
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(unsubscribeSecretName),
		SecretString: aws.String(unsubscribeSecret)}); err != nil {
		t.Fatalf("create the unsubscribe secret: %v", err)
	}

	// The emulators' wiring; the template sets the rest (templateFunction).
	env := map[string]string{
		"AWS_REGION": region, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_S3":       s3srv.URL, "AWS_ENDPOINT_URL_DYNAMODB": ddbSrv.URL, "AWS_ENDPOINT_URL_SESV2": sesSrv.URL,
		"AWS_ENDPOINT_URL_SNS": snsSrv.URL, "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2": smsSrv.URL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": secretsURL,
		"S3_PATH_STYLE":                    "true",
	}
	var fns []lambdalocal.Function
	sh := &shape{root: root, blob: s3blob.New(s3c, bucket, ""), state: st, ses: ses, sns: sns, sms: sms, moto: m, memory: templateMemory(t),
		s3Requests: s3count, dynamoRequests: ddbCount, env: env, rie: rie, table: table, tmpSize: o.TmpSize}
	for _, n := range names {
		fn := sh.templateFunction(t, n, built[n].Path)
		maps.Copy(fn.Env, fnEnv[n])
		if over, ok := o.Over[n]; ok {
			maps.Copy(fn.Env, over.Env)
			if over.Timeout > 0 {
				fn.Timeout = over.Timeout
			}
		}
		fns = append(fns, fn)
	}
	var logs io.Writer = io.Discard
	if os.Getenv("STEPWISE_SHAPE_LOGS") != "" {
		logs = os.Stderr
	}
	require(t, strictWhy())
	if m != nil {
		m.enforce(t)
	}
	f, err := lambdalocal.StartFunctions(ctx, lambdalocal.FunctionsOptions{RIE: rie, Functions: fns, Env: env, WorkDir: t.TempDir(), Output: logs, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	sh.fns = f
	if m != nil {
		// aws-local-stepfunctions invokes without credentials: the router
		// checks the state machine role's lambda:InvokeFunction.
		f.Router.Authorize(func(fn string) error {
			arn := fn
			if !strings.HasPrefix(arn, "arn:") {
				arn = "arn:aws:lambda:" + region + ":" + account + ":function:" + fn
			}
			if allowed(stateMachine, access{"lambda:InvokeFunction", arn}) {
				return nil
			}
			m.deny(denial{Function: "StateMachineRole", Action: "lambda:InvokeFunction", Resource: arn})
			return fmt.Errorf("StateMachineRole is not authorized to perform: lambda:InvokeFunction on resource: %s", arn)
		})
	}
	return sh
}

// The unsubscribe signing secret, by name (the template's !Ref) and value.
const (
	unsubscribeSecretName = "stepwise-shape-unsubscribe"
	unsubscribeSecret     = "shape-unsubscribe-secret-0123456789abcdef"
)

// senderIdentity is the SES identity the examples send from (shop.example).
const senderIdentity = "shop.example"

// alertTopic is the template's AlertTopic, which alert activities publish to.
const alertTopic = "arn:aws:sns:" + region + ":" + account + ":" + stack + "-alerts"

// pushApp is the SNS platform application push registers tokens with.
const pushApp = "arn:aws:sns:" + region + ":" + account + ":app/GCM/" + stack

// sent counts the messages the providers accepted, by channel.
func (sh *shape) sent() (email, push, sms int) {
	sms = len(sh.sms.Messages())
	if sh.moto != nil {
		c := sh.moto.calls.snapshot()
		return c["ses:SendEmail"], c["sns:Publish"] - sh.moto.topicPublishes(), sms
	}
	// SNS also has the alerts, published to the template's ALERT_TOPIC_ARN.
	for _, m := range sh.sns.Messages() {
		if m.TopicArn == "" {
			push++
		}
	}
	return len(sh.ses.Messages()), push, sms
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9]+)FunctionArn\}`)

// functionsOf lists the functions a compiled definition invokes.
func functionsOf(def []byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range placeholder.FindAllSubmatch(def, -1) {
		if n := string(m[1]); !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// deployable substitutes the function ARNs, as the template's
// DefinitionSubstitutions (or the API at publish) do.
func deployable(def []byte) []byte {
	return placeholder.ReplaceAllFunc(def, func(m []byte) []byte {
		return []byte(arnBase + string(placeholder.FindSubmatch(m)[1]))
	})
}

func compileFile(t testing.TB, campaignFile, catalogFile string) *compile.Program {
	t.Helper()
	p, diags := compile.CompileFiles(context.Background(), campaignFile, catalogFile, builtin.Registry(), builtin.Checkers(), builtin.Schemas())
	if diags.HasErrors() {
		t.Fatalf("%s does not compile:\n%v", campaignFile, diags)
	}
	return p
}

// run is one campaign execution in both runtimes.
type run struct {
	name    string
	program *compile.Program
	params  map[string]any
	runID   string
	test    bool
	// at, when set, is the instant the local run starts at (its clock runs
	// on from there): the AWS-shaped run's, so that relative dates and
	// anniversaries cut at the same point whenever the two runs happen.
	at time.Time
}

func (r run) input() json.RawMessage {
	b, _ := json.Marshal(runner.ExecutionInput{Params: r.params, RunID: r.runID, Test: r.test})
	return b
}

// runAWS publishes the bundles to S3 and executes the definitions with
// aws-local-stepfunctions through the router.
func (sh *shape) runAWS(t *testing.T, runs []run) []lambdalocal.Outcome {
	t.Helper()
	ctx := context.Background()
	loader := &compile.Publisher{Blob: sh.blob}
	var execs []lambdalocal.Execution
	for _, r := range runs {
		if err := loader.Publish(ctx, r.program.Campaign.ID, r.program.Bundle); err != nil {
			t.Fatal(err)
		}
		execs = append(execs, lambdalocal.Execution{Definition: deployable(r.program.JSON), Input: r.input()})
	}
	// The examples take ~2.5 minutes on an idle 2-core machine (moto answers slowly).
	out, err := lambdalocal.RunSFN(ctx, sh.root, sh.fns.URL, execs, lambdalocal.SFNOptions{WaitMs: 5, RetryMs: 5, Timeout: 6 * time.Minute})
	if err != nil {
		// Say what the functions were doing: their calls, and what IAM refused.
		sh.logInvocations(t)
		if sh.moto != nil {
			t.Logf("IAM denials so far: %q", sh.moto.denials())
		}
		t.Fatal(err)
	}
	return out
}

// runLocal runs the same program with the local executor (in-process
// interpreter, folder blob store, bbolt).
func runLocal(t *testing.T, r run) *runner.Summary {
	t.Helper()
	l, err := executor.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !r.at.IsZero() {
		began := time.Now()
		l.Env.Clock = func() time.Time { return r.at.Add(time.Since(began)) }
	}
	s, err := l.Run(context.Background(), r.program, executor.Options{Params: r.params, RunID: r.runID, Test: r.test, Wait: interp.WaitSkip})
	if err != nil && s == nil {
		t.Fatalf("local run of %s: %v", r.name, err)
	}
	return s
}

// storedSummary reads a run back from DynamoDB.
func (sh *shape) storedSummary(t *testing.T, runID string) *runner.Summary {
	t.Helper()
	ctx := context.Background()
	got, err := sh.state.GetRun(ctx, runID)
	if err != nil {
		t.Fatalf("run %s in DynamoDB: %v", runID, err)
	}
	s, err := (&runner.Runner{Store: sh.state}).Summarize(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// diffSummaries describes how got differs from want: run status, and per
// activity its status and the count on every activated port.
func diffSummaries(want, got *runner.Summary) string {
	var d []string
	if want.Status != got.Status {
		d = append(d, fmt.Sprintf("run status %s, local %s", got.Status, want.Status))
	}
	ids := map[string]bool{}
	for id := range want.Activities {
		ids[id] = true
	}
	for id := range got.Activities {
		ids[id] = true
	}
	var keys []string
	for id := range ids {
		keys = append(keys, id)
	}
	sort.Strings(keys)
	for _, id := range keys {
		w, wok := want.Activities[id]
		g, gok := got.Activities[id]
		switch {
		case !wok:
			d = append(d, fmt.Sprintf("%s: %s with %v, not run locally", id, g.Status, g.Ports))
		case !gok:
			d = append(d, fmt.Sprintf("%s: missing, local %s with %v", id, w.Status, w.Ports))
		case w.Status != g.Status || fmt.Sprint(w.Ports) != fmt.Sprint(g.Ports):
			d = append(d, fmt.Sprintf("%s: %s %v, local %s %v", id, g.Status, g.Ports, w.Status, w.Ports))
		}
	}
	return strings.Join(d, "\n")
}

// templateMemory reads each function's MemorySize from template.yaml.
func templateMemory(t testing.TB) map[string]int {
	t.Helper()
	tmpl := loadTemplate(t)
	out := map[string]int{}
	for id, r := range tmpl.functions() {
		out[strings.TrimSuffix(id, "Function")] = r.memory(tmpl)
	}
	return out
}

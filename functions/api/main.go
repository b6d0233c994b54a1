// Command api is the Api Lambda: the marketers' HTTP API (shared/api) behind
// API Gateway, publishing campaigns to Step Functions and EventBridge
// Scheduler (shared/aws/publish), and the console (shared/console) in front
// of it. The gateway authorizes the API's callers (IAM or JWT), so its
// handlers trust it; the console's routes are public at the gateway and
// need the console's session, started by a Cognito login.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/preview"
	"github.com/stepwise-run/stepwise/shared/aws/feedbackq"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/channelfn"
	"github.com/stepwise-run/stepwise/shared/aws/publish"
	"github.com/stepwise-run/stepwise/shared/aws/secrets"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/console"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		if err := cfg.ReadUnsubscribeSecret(context.Background(), secrets.Reader(awsCfg)); err != nil {
			log.Fatal(err)
		}
		if err := cfg.ReadPreviousUnsubscribeSecret(context.Background(), secrets.PreviousReader(awsCfg)); err != nil {
			log.Fatal(err)
		}
		st := lambdafn.NewStack(cfg, awsCfg)
		pub := &publish.Publisher{SFN: sfn.NewFromConfig(awsCfg), Scheduler: scheduler.NewFromConfig(awsCfg),
			RoleArn: cfg.StateMachineRole, SchedulerRoleArn: cfg.SchedulerRole, Prefix: cfg.NamePrefix, Group: cfg.ScheduleGroup,
			FunctionArn: func(name string) string { return cfg.FunctionArnPrefix + name }}
		if cfg.StateMachineLogLevel != "" {
			pub.Logging = &publish.Logging{LogGroupArn: cfg.StateMachineLogGroup, Level: cfg.StateMachineLogLevel, ExecutionData: cfg.StateMachineLogData}
			if err := pub.Logging.Validate(); err != nil {
				log.Fatalf("STATE_MACHINE_LOG_LEVEL, STATE_MACHINE_LOG_GROUP_ARN: %v", err)
			}
		}
		var fb api.FeedbackRecorder
		if cfg.FeedbackQueue != "" {
			fb = &feedbackq.Queue{SQS: sqs.NewFromConfig(awsCfg), URL: cfg.FeedbackQueue}
		}
		schemas := &dataset.SchemaProbe{Buckets: st.Buckets, WorkDir: cfg.WorkDir}
		renderer, seeHost := proofRenderer(channelfn.StackStores(st), cfg)
		h := api.New(api.Options{Renderer: renderer, Store: st.State, Sources: lambdafn.BlobSources{Blob: st.Blob}, Feedback: fb, Schemas: schemas,
			Bundles:  &compile.Publisher{Blob: st.Blob},
			Executor: pub, Deployer: pub, Previewer: &preview.Previewer{Options: dataset.Options{Store: st.Blob, WorkDir: cfg.WorkDir}},
			Uploads:   &publish.Uploads{Presign: s3.NewPresignClient(st.S3), Bucket: cfg.Bucket, Prefix: cfg.Prefix + "uploads/"},
			Authorize: api.TrustGateway, UnsubscribeSecret: []byte(cfg.UnsubscribeSecret), UnsubscribePrevious: []byte(cfg.UnsubscribePrevious), Logger: slog.Default()})
		c, err := consoleFor(cfg, h, st.State)
		if err != nil {
			log.Fatal(err)
		}
		return lambdafn.HTTP(seeHost(c))
	})
}

// proofRenderer renders proofs from runs' send plans (the channel family
// bound to the stores, without sending), signing unsubscribe links as the
// channel functions do: for PUBLIC_URL, which the template gives them as
// the HTTP API's own URL but cannot give this function (the HTTP API refers
// to it); so unless PUBLIC_URL is set, the links point at the host requests
// reach the function at, which seeHost notes.
func proofRenderer(s channelfn.Stores, cfg lambdafn.Config) (r *channelfn.Renderer, seeHost func(http.Handler) http.Handler) {
	l := &hostLinks{secret: []byte(cfg.UnsubscribeSecret), fixed: cfg.PublicURL}
	return channelfn.NewRenderer(s, l), l.wrap
}

// hostLinks are channel.SignedLinks for PUBLIC_URL or the host seen last.
type hostLinks struct {
	secret []byte
	fixed  string
	seen   atomic.Pointer[string]
}

func (l *hostLinks) Unsubscribe(c unsubscribe.Claims) (string, string) {
	base := l.fixed
	if p := l.seen.Load(); base == "" && p != nil {
		base = *p
	}
	return channel.SignedLinks{BaseURL: base, Secret: l.secret}.Unsubscribe(c)
}

func (l *hostLinks) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.fixed == "" && r.Host != "" {
			u := "https://" + r.Host
			l.seen.Store(&u)
		}
		h.ServeHTTP(w, r)
	})
}

// consoleFor puts the console in front of the API handler h: sessions sealed
// with a key derived from the unsubscribe secret (the one secret the function
// reads; the console derives its own key from it) and opened with its value
// before the last rotation too; logouts kept in the run-state store (every
// instance sees them); login with the Cognito user pool of CONSOLE_OIDC_*.
// No token login: the console calls the API in-process, which trusts what
// reaches it (api.TrustGateway), and serves only its own paths
// (console.Paths), the public routes of the template.
func consoleFor(cfg lambdafn.Config, h http.Handler, revoked console.Revocations) (http.Handler, error) {
	o := console.Options{API: h, Revoked: revoked, Logger: slog.Default()}
	for _, sec := range []string{cfg.UnsubscribeSecret, cfg.UnsubscribePrevious} { // sessions from before a rotation too
		if sec != "" {
			o.SessionSecrets = append(o.SessionSecrets, []byte(sec))
		}
	}
	if cfg.ConsoleIssuer != "" {
		o.OIDC = &console.OIDC{Issuer: cfg.ConsoleIssuer, ClientID: cfg.ConsoleClientID, Domain: cfg.ConsoleDomain, RedirectURL: cfg.ConsoleCallback}
	}
	c, err := console.Open(o)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return c, nil
}

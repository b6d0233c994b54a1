// Package lambdafn is the Lambda glue of Stepwise: typed configuration from
// the environment, the AWS adapters (S3 blob store, DynamoDB state store, the
// bundle loaders, Step Functions, SNS) and a handler that feeds every
// invocation to runner.Handle, so a function behaves in a Lambda exactly as
// in the local interpreter. Handler errors keep their Go type: aws-lambda-go
// reports it as errorType, which the emitted Retry and Catch lists name.
//
// A main is a few lines:
//
//	cfg, err := lambdafn.FromEnv(os.Getenv)      // typed config
//	awsCfg, err := config.LoadDefaultConfig(ctx)  // honours AWS_ENDPOINT_URL_*
//	st := lambdafn.NewStack(cfg, awsCfg)         // adapters
//	fn := datafn.Function(st, "BuildAudience")     // its family, bound to the stack
//	lambda.Start(fn.Invoke)
//
// A function links its own family only (datafn: targeting and data;
// channelfn: channels; flow and run-level functions: neither DuckDB nor
// cgo), and no function links the compiler: handlers read the runtime plan
// the compiler emitted. This package must stay free of cgo: every function
// imports it.
package lambdafn

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/fileroot"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

// Config is a function's configuration, read from its environment (the SAM
// template sets these variables through Globals).
type Config struct {
	Table   string // TABLE_NAME: the DynamoDB table (required)
	Bucket  string // BUCKET: the S3 bucket of datasets and bundles (required)
	Prefix  string // PREFIX: key prefix inside the bucket (optional)
	WorkDir string // WORK_DIR: scratch space, default /tmp

	// S3PathStyle (S3_PATH_STYLE=true) addresses buckets by path, for S3
	// emulators on a host name (an IP-literal endpoint needs no flag).
	S3PathStyle bool

	// StateMachinePrefix (STATE_MACHINE_PREFIX) is the ARN prefix of the
	// campaigns' state machines, e.g.
	// arn:aws:states:eu-west-1:123456789012:stateMachine:stepwise-prod- ;
	// the trigger appends the campaign id when a version records no ARN.
	StateMachinePrefix string
	// TriggerGrace (TRIGGER_GRACE, a Go duration, default 1h): a scheduled
	// firing found later than this after its slot is recorded as expired.
	TriggerGrace time.Duration

	// AlertTopic (ALERT_TOPIC_ARN) is the SNS topic alert activities
	// publish to; empty keeps alerts in the run log only.
	AlertTopic string

	// The API function publishes campaigns: state machines and schedules
	// named NamePrefix + campaign id (NAME_PREFIX, e.g. stepwise-prod-) in
	// ScheduleGroup (SCHEDULE_GROUP), assuming StateMachineRole
	// (STATE_MACHINE_ROLE_ARN) and SchedulerRole (SCHEDULER_ROLE_ARN); a
	// task's Lambda is FunctionArnPrefix + its name (FUNCTION_ARN_PREFIX).
	NamePrefix, ScheduleGroup       string
	StateMachineRole, SchedulerRole string
	FunctionArnPrefix               string
	// The published state machines log to StateMachineLogGroup
	// (STATE_MACHINE_LOG_GROUP_ARN, ending in :*) at StateMachineLogLevel
	// (STATE_MACHINE_LOG_LEVEL: OFF, ERROR, FATAL or ALL; empty, no
	// logging configuration), with states' input and output when
	// StateMachineLogData (STATE_MACHINE_LOG_EXECUTION_DATA=true).
	StateMachineLogGroup, StateMachineLogLevel string
	StateMachineLogData                        bool
	// UnsubscribeSecret signs unsubscribe links, which point at PublicURL
	// (PUBLIC_URL), the API's base URL. On AWS it is the Secrets Manager
	// secret UnsubscribeSecretArn (UNSUBSCRIBE_SECRET_ARN), read once per
	// container (ReadUnsubscribeSecret); local stand-ins set the value
	// itself (UNSUBSCRIBE_SECRET).
	UnsubscribeSecret, PublicURL string
	UnsubscribeSecretArn         string
	// UnsubscribePrevious is the secret's value before its last rotation
	// (ReadPreviousUnsubscribeSecret; the API still verifies unsubscribe
	// links and opens console sessions signed with it); empty when never
	// rotated.
	UnsubscribePrevious string

	// Channel providers: SendRate (SEND_RATE) caps the messages per second
	// of one channel function (0: no cap); SMSOrigination
	// (SMS_ORIGINATION_IDENTITY) is the SMS sender (phone number, pool or
	// sender id); PushApplication (PUSH_PLATFORM_APPLICATION_ARN) registers
	// device tokens for push.
	SendRate                        float64
	SMSOrigination, PushApplication string

	// ConfigurationSet (SES_CONFIGURATION_SET) is attached to every email,
	// so that SES publishes delivery events to the feedback topic.
	ConfigurationSet string

	// FeedbackQueue (FEEDBACK_QUEUE_URL) is where the API sends the
	// message_feedback records of one-click unsubscribes; empty keeps none.
	FeedbackQueue string

	// The API function's console logs people in with a Cognito user pool
	// (OpenID Connect): issuer (CONSOLE_OIDC_ISSUER), app client id
	// (CONSOLE_OIDC_CLIENT_ID), hosted UI domain for logout
	// (CONSOLE_OIDC_DOMAIN) and callback URL (CONSOLE_CALLBACK_URL, default
	// the API's own /login/callback). Without an issuer nobody can log in.
	ConsoleIssuer, ConsoleClientID string
	ConsoleDomain, ConsoleCallback string

	// AthenaDatabase (ATHENA_GLUE_DATABASE) is the Glue database the
	// build-audience function may register a run's tables in, for catalogs on
	// the Athena engine (the template grants that database only); empty,
	// no Athena host: such an activity fails ("no Athena is configured").
	AthenaDatabase string

	// FileRoots are the s3:// prefixes load-file may read: the API's
	// uploads (s3://BUCKET/PREFIXuploads/) and those in LOAD_FILE_S3_PREFIXES
	// (comma-separated s3://bucket/prefix/); no local folder (files beside
	// a campaign come from its bundle).
	FileRoots fileroot.Roots
}

var glueDatabase = regexp.MustCompile(`^[a-z0-9_]{1,255}$`)

// Getenv is os.Getenv or a test's map lookup.
type Getenv func(string) string

// FromEnv reads the configuration; it names every missing or bad variable.
func FromEnv(getenv Getenv) (Config, error) {
	c := Config{
		Table:                getenv("TABLE_NAME"),
		Bucket:               getenv("BUCKET"),
		Prefix:               getenv("PREFIX"),
		WorkDir:              getenv("WORK_DIR"),
		StateMachinePrefix:   getenv("STATE_MACHINE_PREFIX"),
		ConfigurationSet:     getenv("SES_CONFIGURATION_SET"),
		AlertTopic:           getenv("ALERT_TOPIC_ARN"),
		NamePrefix:           getenv("NAME_PREFIX"),
		ScheduleGroup:        getenv("SCHEDULE_GROUP"),
		StateMachineRole:     getenv("STATE_MACHINE_ROLE_ARN"),
		SchedulerRole:        getenv("SCHEDULER_ROLE_ARN"),
		FunctionArnPrefix:    getenv("FUNCTION_ARN_PREFIX"),
		StateMachineLogGroup: getenv("STATE_MACHINE_LOG_GROUP_ARN"),
		StateMachineLogLevel: getenv("STATE_MACHINE_LOG_LEVEL"),
		UnsubscribeSecret:    getenv("UNSUBSCRIBE_SECRET"),
		UnsubscribeSecretArn: getenv("UNSUBSCRIBE_SECRET_ARN"),
		PublicURL:            getenv("PUBLIC_URL"),
		SMSOrigination:       getenv("SMS_ORIGINATION_IDENTITY"),
		PushApplication:      getenv("PUSH_PLATFORM_APPLICATION_ARN"),
		FeedbackQueue:        getenv("FEEDBACK_QUEUE_URL"),
		ConsoleIssuer:        getenv("CONSOLE_OIDC_ISSUER"),
		ConsoleClientID:      getenv("CONSOLE_OIDC_CLIENT_ID"),
		ConsoleDomain:        getenv("CONSOLE_OIDC_DOMAIN"),
		ConsoleCallback:      getenv("CONSOLE_CALLBACK_URL"),
		AthenaDatabase:       getenv("ATHENA_GLUE_DATABASE"),
		TriggerGrace:         time.Hour,
	}
	var problems []string
	if c.Table == "" {
		problems = append(problems, "TABLE_NAME is not set")
	}
	if c.Bucket == "" {
		problems = append(problems, "BUCKET is not set")
	}
	if c.UnsubscribeSecret != "" && c.UnsubscribeSecretArn != "" {
		problems = append(problems, "UNSUBSCRIBE_SECRET and UNSUBSCRIBE_SECRET_ARN are both set; set one")
	}
	if (c.ConsoleIssuer == "") != (c.ConsoleClientID == "") {
		problems = append(problems, "CONSOLE_OIDC_ISSUER and CONSOLE_OIDC_CLIENT_ID go together; set both or neither")
	}
	if c.ConsoleIssuer == "" && (c.ConsoleDomain != "" || c.ConsoleCallback != "") {
		problems = append(problems, "CONSOLE_OIDC_DOMAIN and CONSOLE_CALLBACK_URL need CONSOLE_OIDC_ISSUER")
	}
	if c.AthenaDatabase != "" && !glueDatabase.MatchString(c.AthenaDatabase) {
		problems = append(problems, fmt.Sprintf("ATHENA_GLUE_DATABASE=%q is not a Glue database name (lower-case letters, digits and _)", c.AthenaDatabase))
	}
	if c.WorkDir == "" {
		c.WorkDir = "/tmp"
	}
	if v := getenv("S3_PATH_STYLE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("S3_PATH_STYLE=%q is not a boolean", v))
		}
		c.S3PathStyle = b
	}
	if v := getenv("STATE_MACHINE_LOG_EXECUTION_DATA"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("STATE_MACHINE_LOG_EXECUTION_DATA=%q is not a boolean", v))
		}
		c.StateMachineLogData = b
	}
	if v := getenv("SEND_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 {
			problems = append(problems, fmt.Sprintf("SEND_RATE=%q is not a rate (messages per second)", v))
		}
		c.SendRate = r
	}
	if v := getenv("TRIGGER_GRACE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("TRIGGER_GRACE=%q is not a positive duration", v))
		}
		c.TriggerGrace = d
	}
	c.FileRoots.NoCampaignFolder = true
	c.FileRoots.S3 = []string{"s3://" + c.Bucket + "/" + c.Prefix + fileroot.UploadsDir + "/"}
	for _, v := range strings.Split(getenv("LOAD_FILE_S3_PREFIXES"), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if !strings.HasPrefix(v, "s3://") || c.FileRoots.Add(v) != nil {
			problems = append(problems, fmt.Sprintf("LOAD_FILE_S3_PREFIXES: %q is not an s3://bucket/prefix/", v))
		}
	}
	if len(problems) > 0 {
		return c, errors.New("lambdafn: " + strings.Join(problems, "; "))
	}
	return c, nil
}

// ReadUnsubscribeSecret sets UnsubscribeSecret to the value of the secret
// UnsubscribeSecretArn, when set, with read (secrets.Reader on AWS). A
// function calls it once, at init: an error is an init error.
func (c *Config) ReadUnsubscribeSecret(ctx context.Context, read func(context.Context, string) ([]byte, error)) error {
	if c.UnsubscribeSecretArn == "" {
		return nil
	}
	v, err := read(ctx, c.UnsubscribeSecretArn)
	if err != nil {
		return fmt.Errorf("lambdafn: UNSUBSCRIBE_SECRET_ARN: %w", err)
	}
	if len(v) < unsubscribe.MinSecretLen {
		return fmt.Errorf("lambdafn: UNSUBSCRIBE_SECRET_ARN: the secret has %d bytes, at least %d are needed", len(v), unsubscribe.MinSecretLen)
	}
	c.UnsubscribeSecret = string(v)
	return nil
}

// ReadPreviousUnsubscribeSecret sets UnsubscribePrevious to the value the
// secret UnsubscribeSecretArn had before its current one, when set, with
// read (secrets.PreviousReader on AWS, which answers nil when there is
// none). Call it after ReadUnsubscribeSecret, at init.
func (c *Config) ReadPreviousUnsubscribeSecret(ctx context.Context, read func(context.Context, string) ([]byte, error)) error {
	if c.UnsubscribeSecretArn == "" {
		return nil
	}
	v, err := read(ctx, c.UnsubscribeSecretArn)
	if err != nil {
		return fmt.Errorf("lambdafn: UNSUBSCRIBE_SECRET_ARN (previous value): %w", err)
	}
	if len(v) > 0 && len(v) < unsubscribe.MinSecretLen {
		return fmt.Errorf("lambdafn: UNSUBSCRIBE_SECRET_ARN: the previous value has %d bytes, at least %d are needed", len(v), unsubscribe.MinSecretLen)
	}
	c.UnsubscribePrevious = string(v)
	return nil
}

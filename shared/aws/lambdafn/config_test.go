package lambdafn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func env(m map[string]string) lambdafn.Getenv { return func(k string) string { return m[k] } }

func TestFromEnv(t *testing.T) {
	c, err := lambdafn.FromEnv(env(map[string]string{"TABLE_NAME": "t", "BUCKET": "b", "PREFIX": "p/", "S3_PATH_STYLE": "true", "TRIGGER_GRACE": "90m"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Table != "t" || c.Bucket != "b" || c.Prefix != "p/" || !c.S3PathStyle || c.WorkDir != "/tmp" || c.TriggerGrace != 90*time.Minute {
		t.Errorf("config %+v", c)
	}
	c, err = lambdafn.FromEnv(env(map[string]string{"TABLE_NAME": "t", "BUCKET": "b", "STATE_MACHINE_LOG_GROUP_ARN": "arn:g:*",
		"STATE_MACHINE_LOG_LEVEL": "ALL", "STATE_MACHINE_LOG_EXECUTION_DATA": "true"}))
	if err != nil || c.StateMachineLogGroup != "arn:g:*" || c.StateMachineLogLevel != "ALL" || !c.StateMachineLogData {
		t.Errorf("state machine logging: %+v, %v", c, err)
	}
	c, err = lambdafn.FromEnv(env(map[string]string{"TABLE_NAME": "t", "BUCKET": "b"}))
	if err != nil || c.TriggerGrace != time.Hour || c.S3PathStyle || c.StateMachineLogLevel != "" || c.StateMachineLogData {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	if got := strings.Join(c.FileRoots.S3, " "); got != "s3://b/uploads/" || len(c.FileRoots.Dirs) != 0 {
		t.Errorf("default file roots %+v", c.FileRoots)
	}
}

func TestFromEnvConsole(t *testing.T) {
	base := map[string]string{"TABLE_NAME": "t", "BUCKET": "b", "CONSOLE_OIDC_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",
		"CONSOLE_OIDC_CLIENT_ID": "client", "CONSOLE_OIDC_DOMAIN": "sw.auth.eu-west-1.amazoncognito.com", "CONSOLE_CALLBACK_URL": "https://console.example.com/login/callback"}
	c, err := lambdafn.FromEnv(env(base))
	if err != nil || c.ConsoleIssuer != base["CONSOLE_OIDC_ISSUER"] || c.ConsoleClientID != "client" || c.ConsoleDomain != base["CONSOLE_OIDC_DOMAIN"] || c.ConsoleCallback != base["CONSOLE_CALLBACK_URL"] {
		t.Errorf("console: %+v, %v", c, err)
	}
	for drop, want := range map[string]string{"CONSOLE_OIDC_CLIENT_ID": "set both or neither", "CONSOLE_OIDC_ISSUER": "set both or neither"} {
		m := map[string]string{}
		for k, v := range base {
			if k != drop {
				m[k] = v
			}
		}
		if _, err := lambdafn.FromEnv(env(m)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("without %s: %v, want %q", drop, err, want)
		}
	}
	if _, err := lambdafn.FromEnv(env(map[string]string{"TABLE_NAME": "t", "BUCKET": "b", "CONSOLE_OIDC_DOMAIN": "x"})); err == nil || !strings.Contains(err.Error(), "need CONSOLE_OIDC_ISSUER") {
		t.Errorf("a domain alone: %v", err)
	}
}

func TestFromEnvFileRoots(t *testing.T) {
	c, err := lambdafn.FromEnv(env(map[string]string{"TABLE_NAME": "t", "BUCKET": "b", "PREFIX": "p/", "LOAD_FILE_S3_PREFIXES": " s3://partner/in/ ,s3://crm/exports/"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.FileRoots.S3, " "); got != "s3://b/p/uploads/ s3://partner/in/ s3://crm/exports/" {
		t.Errorf("file roots %s", got)
	}
	if err := c.FileRoots.CheckS3("s3://b/p/datasets/x.parquet"); err == nil {
		t.Error("the datasets prefix is readable")
	}
	for _, bad := range []string{"/tmp", "s3:///x"} {
		if _, err := lambdafn.FromEnv(env(map[string]string{"TABLE_NAME": "t", "BUCKET": "b", "LOAD_FILE_S3_PREFIXES": bad})); err == nil || !strings.Contains(err.Error(), "LOAD_FILE_S3_PREFIXES") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestFromEnvNamesEveryProblem(t *testing.T) {
	_, err := lambdafn.FromEnv(env(map[string]string{"S3_PATH_STYLE": "maybe", "TRIGGER_GRACE": "-1s", "STATE_MACHINE_LOG_EXECUTION_DATA": "sometimes"}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"TABLE_NAME", "BUCKET", "S3_PATH_STYLE", "TRIGGER_GRACE", "STATE_MACHINE_LOG_EXECUTION_DATA"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestReadUnsubscribeSecret(t *testing.T) {
	ctx := context.Background()
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:u-AbCdEf"
	reads := 0
	read := func(v string, err error) func(context.Context, string) ([]byte, error) {
		return func(_ context.Context, id string) ([]byte, error) {
			reads++
			if id != arn {
				t.Errorf("read %q, want %q", id, arn)
			}
			return []byte(v), err
		}
	}
	c, err := lambdafn.FromEnv(env(map[string]string{"TABLE_NAME": "t", "BUCKET": "b", "UNSUBSCRIBE_SECRET_ARN": arn}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReadUnsubscribeSecret(ctx, read("0123456789abcdef0123", nil)); err != nil || c.UnsubscribeSecret != "0123456789abcdef0123" {
		t.Errorf("secret %q, %v", c.UnsubscribeSecret, err)
	}
	short := c
	short.UnsubscribeSecret = ""
	if err := short.ReadUnsubscribeSecret(ctx, read("short", nil)); err == nil || !strings.Contains(err.Error(), "UNSUBSCRIBE_SECRET_ARN") || strings.Contains(err.Error(), "short") {
		t.Errorf("short secret: %v", err)
	}
	if err := c.ReadUnsubscribeSecret(ctx, read("", errors.New("AccessDeniedException"))); err == nil || !strings.Contains(err.Error(), "UNSUBSCRIBE_SECRET_ARN: AccessDeniedException") {
		t.Errorf("denied: %v", err)
	}
	local, _ := lambdafn.FromEnv(env(map[string]string{"TABLE_NAME": "t", "BUCKET": "b", "UNSUBSCRIBE_SECRET": "local-secret-of-16+"}))
	n := reads
	if err := local.ReadUnsubscribeSecret(ctx, read("x", nil)); err != nil || reads != n || local.UnsubscribeSecret != "local-secret-of-16+" {
		t.Errorf("without an ARN: read %d times, secret %q, %v", reads-n, local.UnsubscribeSecret, err)
	}
	// The value before the last rotation: none, one, a short one, a refusal.
	if err := c.ReadPreviousUnsubscribeSecret(ctx, func(context.Context, string) ([]byte, error) { return nil, nil }); err != nil || c.UnsubscribePrevious != "" {
		t.Errorf("no previous value: %q, %v", c.UnsubscribePrevious, err)
	}
	if err := c.ReadPreviousUnsubscribeSecret(ctx, read("before-rotation-0123", nil)); err != nil || c.UnsubscribePrevious != "before-rotation-0123" {
		t.Errorf("previous value: %q, %v", c.UnsubscribePrevious, err)
	}
	if err := short.ReadPreviousUnsubscribeSecret(ctx, read("short", nil)); err == nil || !strings.Contains(err.Error(), "previous value has 5 bytes") {
		t.Errorf("short previous value: %v", err)
	}
	if err := c.ReadPreviousUnsubscribeSecret(ctx, read("", errors.New("AccessDeniedException"))); err == nil || !strings.Contains(err.Error(), "(previous value): AccessDeniedException") {
		t.Errorf("denied previous value: %v", err)
	}
	n = reads
	if err := local.ReadPreviousUnsubscribeSecret(ctx, read("x", nil)); err != nil || reads != n || local.UnsubscribePrevious != "" {
		t.Errorf("previous without an ARN: read %d times, %v", reads-n, err)
	}
	if _, err := lambdafn.FromEnv(env(map[string]string{"TABLE_NAME": "t", "BUCKET": "b", "UNSUBSCRIBE_SECRET": "x", "UNSUBSCRIBE_SECRET_ARN": arn})); err == nil ||
		!strings.Contains(err.Error(), "both set") {
		t.Errorf("both set: %v", err)
	}
}

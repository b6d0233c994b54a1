package secrets_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stepwise-run/stepwise/shared/aws/secrets"
	"github.com/stepwise-run/stepwise/shared/testenv"
)

// Read against moto_server: a string secret by ARN and by name, a binary
// secret, and a missing one (the error names it).
func TestReadOnMoto(t *testing.T) {
	ctx := context.Background()
	url := testenv.Moto(t)
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(url)}
	c := secretsmanager.NewFromConfig(cfg)
	const value = "3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("stepwise-unsubscribe"), SecretString: aws.String(value)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bin"), SecretBinary: []byte{0, 1, 2}}); err != nil {
		t.Fatal(err)
	}
	read := secrets.Reader(cfg)
	for _, id := range []string{aws.ToString(out.ARN), "stepwise-unsubscribe"} {
		got, err := read(ctx, id)
		if err != nil || string(got) != value {
			t.Errorf("read %s: %q, %v", id, got, err)
		}
	}
	if got, err := secrets.Read(ctx, c, "bin"); err != nil || string(got) != "\x00\x01\x02" {
		t.Errorf("binary: %q, %v", got, err)
	}
	// Before a rotation there is no previous value; after one, the value before.
	if got, err := secrets.ReadPrevious(ctx, c, "stepwise-unsubscribe"); err != nil || got != nil {
		t.Errorf("previous before a rotation: %q, %v", got, err)
	}
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("stepwise-unsubscribe"), SecretString: aws.String("rotated-" + value)}); err != nil {
		t.Fatal(err)
	}
	if got, err := secrets.PreviousReader(cfg)(ctx, "stepwise-unsubscribe"); err != nil || string(got) != value {
		t.Errorf("previous after a rotation: %q, %v", got, err)
	}
	if got, err := read(ctx, "stepwise-unsubscribe"); err != nil || string(got) != "rotated-"+value {
		t.Errorf("current after a rotation: %q, %v", got, err)
	}
	_, err = read(ctx, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:missing-AbCdEf")
	if err == nil || !strings.Contains(err.Error(), "secret:missing-AbCdEf") || strings.Contains(err.Error(), value) {
		t.Errorf("missing secret: %v", err)
	}
}

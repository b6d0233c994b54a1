// Package secrets reads secrets from AWS Secrets Manager (the unsubscribe
// signing secret the SAM template generates).
package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Client is the part of *secretsmanager.Client Read uses.
type Client interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Read returns the current value of the secret id (its ARN or name): the
// secret string, or the binary secret. Errors name the secret, never its
// value.
func Read(ctx context.Context, c Client, id string) ([]byte, error) {
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("secrets: read %s: %w", id, err)
	}
	switch {
	case out.SecretString != nil && *out.SecretString != "":
		return []byte(*out.SecretString), nil
	case len(out.SecretBinary) > 0:
		return out.SecretBinary, nil
	}
	return nil, fmt.Errorf("secrets: %s: %w", id, errEmpty)
}

var errEmpty = errors.New("the secret has no value")

// Reader reads with a Secrets Manager client of awsCfg (which carries the
// AWS_ENDPOINT_URL_* overrides).
func Reader(awsCfg aws.Config) func(context.Context, string) ([]byte, error) {
	c := secretsmanager.NewFromConfig(awsCfg)
	return func(ctx context.Context, id string) ([]byte, error) { return Read(ctx, c, id) }
}

// Package secrets reads secrets from AWS Secrets Manager (the unsubscribe
// signing secret the SAM template generates).
package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Client is the part of *secretsmanager.Client Read uses.
type Client interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Read returns the current value of the secret id (its ARN or name): the
// secret string, or the binary secret. Errors name the secret, never its
// value.
func Read(ctx context.Context, c Client, id string) ([]byte, error) {
	return read(ctx, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
}

// ReadPrevious returns the value the secret id had before its current one
// (its AWSPREVIOUS version), or nil when it has none (never rotated). Read
// the current value first: a missing secret has no previous value either.
func ReadPrevious(ctx context.Context, c Client, id string) ([]byte, error) {
	v, err := read(ctx, c, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String("AWSPREVIOUS")})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, nil
	}
	return v, err
}

func read(ctx context.Context, c Client, in *secretsmanager.GetSecretValueInput) ([]byte, error) {
	id := aws.ToString(in.SecretId)
	if in.VersionStage != nil {
		id += " (" + *in.VersionStage + ")"
	}
	out, err := c.GetSecretValue(ctx, in)
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

// PreviousReader is Reader for ReadPrevious.
func PreviousReader(awsCfg aws.Config) func(context.Context, string) ([]byte, error) {
	c := secretsmanager.NewFromConfig(awsCfg)
	return func(ctx context.Context, id string) ([]byte, error) { return ReadPrevious(ctx, c, id) }
}

// Reader reads with a Secrets Manager client of awsCfg (which carries the
// AWS_ENDPOINT_URL_* overrides).
func Reader(awsCfg aws.Config) func(context.Context, string) ([]byte, error) {
	c := secretsmanager.NewFromConfig(awsCfg)
	return func(ctx context.Context, id string) ([]byte, error) { return Read(ctx, c, id) }
}

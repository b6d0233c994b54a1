// Command echo is a test Lambda: it echoes its input with the function's
// name, fails with a named error on {"fail":"Retryable"} and sleeps on
// {"sleepMs":N}, loads a time zone on {"zone":"Europe/Paris"} (it embeds
// no time zone data: under a strict sandbox that fails) and writes
// {"writeKB":N} KiB to /tmp/{"file":name}.
package main

import (
	"context"
	"encoding/json"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// Retryable is a named error; Lambda reports it as errorType "Retryable".
type Retryable struct{ Msg string }

func (e *Retryable) Error() string { return e.Msg }

func main() {
	lambda.Start(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		var req struct {
			Fail    string `json:"fail"`
			SleepMs int    `json:"sleepMs"`
			Zone    string `json:"zone"`
			WriteKB int    `json:"writeKB"`
			File    string `json:"file"`
		}
		json.Unmarshal(in, &req)
		if req.SleepMs > 0 {
			time.Sleep(time.Duration(req.SleepMs) * time.Millisecond)
		}
		if req.Zone != "" {
			if _, err := time.LoadLocation(req.Zone); err != nil {
				return nil, &Retryable{Msg: err.Error()}
			}
		}
		if req.WriteKB > 0 {
			if err := os.WriteFile("/tmp/"+req.File, make([]byte, req.WriteKB<<10), 0o600); err != nil {
				return nil, &Retryable{Msg: err.Error()}
			}
		}
		if req.Fail != "" {
			return nil, &Retryable{Msg: "asked to fail"}
		}
		return json.Marshal(map[string]any{"function": os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), "input": in, "env": os.Getenv("ECHO_ENV")})
	})
}

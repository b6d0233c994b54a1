package template_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// nameLimits are the longest names AWS accepts for the resources the
// template names after the stack: type → name property → limit.
var nameLimits = map[string]struct {
	prop string
	max  int
}{
	"AWS::Lambda::Function":            {"FunctionName", 64},
	"AWS::SQS::Queue":                  {"QueueName", 80},
	"AWS::SNS::Topic":                  {"TopicName", 256},
	"AWS::SES::ConfigurationSet":       {"Name", 64},
	"AWS::Scheduler::ScheduleGroup":    {"Name", 64},
	"AWS::StepFunctions::StateMachine": {"StateMachineName", 80},
	"AWS::Logs::LogGroup":              {"LogGroupName", 512},
}

// maxStackName is MAX_STACK_NAME of Makefile.lambda.
func maxStackName(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile.lambda"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^MAX_STACK_NAME := (\d+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("Makefile.lambda sets no MAX_STACK_NAME")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// tooLong lists the names of a stack named name that exceed their limit.
func tooLong(t *testing.T, name string) []string {
	t.Helper()
	s := deployedAs(t, name, nil)
	var out []string
	n := 0
	for id, r := range s.resources {
		lim, ok := nameLimits[fmt.Sprint(r["Type"])]
		if !ok {
			continue
		}
		v, ok := obj(r["Properties"])[lim.prop]
		if !ok {
			continue
		}
		n++
		if got := s.str(t, v); len(got) > lim.max {
			out = append(out, fmt.Sprintf("%s %s %q (%d > %d)", id, lim.prop, got, len(got), lim.max))
		}
	}
	if n < 26 {
		t.Fatalf("only %d named resources", n)
	}
	return out
}

// TestStackNameLimit: with a stack name of MAX_STACK_NAME characters
// every name the template derives from it is within AWS's limits, with
// one more character some function name is not (the limit is the tight
// one); samconfig.toml's stack names keep it; docs/deploy.md states it;
// and `make check-stack-name` refuses a longer name with a clear message.
func TestStackNameLimit(t *testing.T) {
	max := maxStackName(t)
	if bad := tooLong(t, strings.Repeat("s", max)); len(bad) > 0 {
		t.Errorf("a %d-character stack name gives names AWS refuses:\n%s", max, strings.Join(bad, "\n"))
	}
	if bad := tooLong(t, strings.Repeat("s", max+1)); len(bad) == 0 {
		t.Errorf("a %d-character stack name fits too: MAX_STACK_NAME %d is not the tight limit", max+1, max)
	}
	root := repoRoot(t)
	conf, err := os.ReadFile(filepath.Join(root, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^stack_name = "(.*)"$`).FindAllSubmatch(conf, -1) {
		if len(m[1]) > max {
			t.Errorf("samconfig.toml: stack_name %q is longer than %d", m[1], max)
		}
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(fmt.Sprintf("at most %d characters", max))) {
		t.Errorf("docs/deploy.md does not say the stack name has at most %d characters", max)
	}
	if _, err := exec.LookPath("make"); err != nil {
		need(t, "make is not on PATH")
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{{strings.Repeat("s", max), true}, {strings.Repeat("s", max+1), false}} {
		cmd := exec.Command("make", "--no-print-directory", "-f", "Makefile.lambda", "check-stack-name", "STACK_NAME="+tc.name)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.ok {
			t.Errorf("make check-stack-name with %d characters: %v\n%s", len(tc.name), err, out)
		}
		if !tc.ok && !bytes.Contains(out, []byte(fmt.Sprintf("has %d characters; at most %d", len(tc.name), max))) {
			t.Errorf("make check-stack-name: unclear message %q", out)
		}
	}
}

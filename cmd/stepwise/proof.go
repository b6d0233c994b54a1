package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/send"
)

func init() {
	register("proof", command{summary: "render what a channel activity would send: headers, both bodies, the unsubscribe link",
		usage: "proof [--catalog FILE] CAMPAIGN ACTIVITY [--key KEY]... [--sample N] [--out DIR] [--param N=V]... [--home DIR]", run: runProof})
}

// runProof runs the campaign in test mode up to a channel activity, then
// renders chosen recipients of its input with the send path's renderer.
func runProof(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("proof", stderr)
	catalog := fs.String("catalog", "", "catalog file (default: catalog.yaml beside the campaign)")
	home := fs.String("home", ".stepwise", "local state folder (its unsubscribe secret signs the links)")
	sample := fs.Int("sample", 3, "render a deterministic sample of N recipients (without --key)")
	out := fs.String("out", "", "write one file per message to DIR: KEY.eml for email, KEY.json for SMS and push")
	var keys listFlag
	fs.Var(&keys, "key", "render the recipient with this key (repeatable; several key columns joined with |)")
	params := paramFlags{}
	fs.Var(params, "param", "run parameter NAME=VALUE (repeatable)")
	var roots listFlag
	fs.Var(&roots, "file-root", fileRootUsage)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "stepwise proof: expected CAMPAIGN ACTIVITY")
		return 2
	}
	if len(keys) == 0 && *sample <= 0 {
		fmt.Fprintf(stderr, "stepwise proof: --sample %d: want 1 or more (or --key)\n", *sample)
		return 2
	}
	p, diags := builtin.CompileFiles(pos[0], *catalog)
	printDiags(stderr, diags)
	if diags.HasErrors() {
		return 1
	}
	act := pos[1]
	spec, ok := p.Specs[act]
	if _, isChannel := channel.Kinds[typeOf(spec)]; !ok || !isChannel {
		var chans []string
		for _, id := range p.Order {
			if _, c := channel.Kinds[p.Specs[id].Type]; c {
				chans = append(chans, id)
			}
		}
		what := "has no activity " + act
		if ok {
			what = fmt.Sprintf("activity %s is a %s, not a channel activity", act, spec.Type)
		}
		fmt.Fprintf(stderr, "stepwise proof: %s %s; its channel activities: %s\n", p.Campaign.File, what, listOrNone(chans))
		return 2
	}
	l, err := openHome(*home)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise proof: %v\n", err)
		return 1
	}
	defer l.Close()
	if err := l.AllowFiles(roots...); err != nil {
		fmt.Fprintf(stderr, "stepwise proof: --file-root: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	proofs, runID, err := l.Proof(ctx, p, act, map[string]any(params), channel.Selection{Keys: keys, Sample: *sample})
	if err != nil {
		fmt.Fprintf(stderr, "stepwise proof: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "rendered from test run %s, stopped after %s\n", runID, act)
	if *out != "" {
		files, err := writeProofs(*out, proofs)
		if err != nil {
			fmt.Fprintf(stderr, "stepwise proof: --out: %v\n", err)
			return 1
		}
		for _, f := range files {
			fmt.Fprintln(stdout, f)
		}
		return 0
	}
	printProofs(stdout, proofs)
	return 0
}

func typeOf(s *activity.Spec) string {
	if s == nil {
		return ""
	}
	return s.Type
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// printProofs prints each message as it would leave: headers, the text and
// HTML bodies (email), the text (SMS), or title, body and data (push).
func printProofs(w io.Writer, proofs []channel.Proof) {
	for i, p := range proofs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "=== %s %s", p.Channel, visible(p.Recipient, false))
		if p.Variant != "" {
			fmt.Fprintf(w, " (variant %s)", p.Variant)
		}
		fmt.Fprintln(w, " ===")
		if p.Skip != "" {
			fmt.Fprintf(w, "not sent: %s\n", visible(p.Skip, false))
		}
		if p.Error != "" {
			fmt.Fprintf(w, "error: %s\n", visible(p.Error, false))
			continue
		}
		h := func(name, v string) {
			if v != "" {
				fmt.Fprintf(w, "%s: %s\n", name, visible(v, false))
			}
		}
		switch p.Channel {
		case send.Email:
			h("From", p.From)
			h("To", p.To)
			h("Reply-To", p.ReplyTo)
			h("Subject", p.Subject)
			for _, x := range p.Headers {
				h(x.Name, x.Value)
			}
			h("Unsubscribe", p.UnsubscribeURL)
			if p.Text != "" {
				fmt.Fprintf(w, "--- text/plain ---\n%s\n", visible(strings.TrimRight(p.Text, "\n"), true))
			}
			if p.HTML != "" {
				fmt.Fprintf(w, "--- text/html ---\n%s\n", visible(strings.TrimRight(p.HTML, "\n"), true))
			}
		case send.SMS:
			h("From", p.Sender)
			h("To", p.To)
			fmt.Fprintf(w, "--- text ---\n%s\n", visible(strings.TrimRight(p.Text, "\n"), true))
		case send.Push:
			h("To", p.To)
			h("Title", p.Title)
			keys := make([]string, 0, len(p.Data))
			for k := range p.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				h("Data "+k, p.Data[k])
			}
			fmt.Fprintf(w, "--- body ---\n%s\n", visible(strings.TrimRight(p.Body, "\n"), true))
		}
	}
}

// writeProofs writes KEY.eml (the RFC 5322 message) for email and
// KEY.json for SMS and push; returns the paths written.
func writeProofs(dir string, proofs []channel.Proof) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, p := range proofs {
		name := proofFileName(p.Recipient)
		var data []byte
		if p.Channel == send.Email && p.EML != "" {
			name += ".eml"
			data = []byte(p.EML)
		} else {
			name += ".json"
			q := p
			q.EML = ""
			var err error
			if data, err = json.MarshalIndent(q, "", "  "); err != nil {
				return nil, err
			}
			data = append(data, '\n')
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return nil, err
		}
		files = append(files, path)
	}
	return files, nil
}

// proofFileName keeps letters, digits, '.', '-', '_' and '@' of a key.
func proofFileName(key string) string {
	b := []byte(key)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_@", c) >= 0
		if !ok {
			b[i] = '_'
		}
	}
	s := strings.TrimLeft(string(b), ".")
	if s == "" {
		s = "recipient"
	}
	return s
}

// previewProofs prints the rendered messages a test run kept for a channel
// activity (`stepwise preview RUN ACTIVITY.proofs`).
func previewProofs(ctx context.Context, l *executor.Local, runID, act string, stdout, stderr io.Writer) int {
	if _, err := l.State.GetTask(ctx, runID, act); err != nil {
		fmt.Fprintf(stderr, "stepwise preview: run %s activity %s: %v\n", runID, act, err)
		return 1
	}
	ps, err := channel.ReadProofs(ctx, l.Blob, runID, act)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise preview: %v\n", err)
		return 1
	}
	printProofs(stdout, ps)
	fmt.Fprintf(stdout, "(%d rendered messages kept by the test run)\n", len(ps))
	return 0
}

// visible escapes control characters of data (a terminal would act on
// them) as \xNN; multiline keeps line feeds and tabs.
func visible(s string, multiline bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

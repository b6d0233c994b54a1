package main

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

// proofCampaign writes the sample data (30 customers) with
// testdata/proof.yaml beside it and returns the campaign and a fresh home.
func proofCampaign(t *testing.T) (campaign, home string) {
	t.Helper()
	data := t.TempDir()
	if _, errOut, code := stepwise(t, "sample-data", "--out", data, "--customers", "30", "--seed", "1", "--today", "2026-01-01"); code != 0 {
		t.Fatal(errOut)
	}
	src, err := os.ReadFile("testdata/proof.yaml")
	if err != nil {
		t.Fatal(err)
	}
	campaign = filepath.Join(data, "proof.yaml")
	if err := os.WriteFile(campaign, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return campaign, t.TempDir()
}

func mustStepwise(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := stepwise(t, args...)
	if code != 0 {
		t.Fatalf("stepwise %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// emailParts parses an RFC 5322 message: its headers and its decoded parts
// by content type.
func emailParts(t *testing.T, raw string) (mail.Header, map[string]string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
			t.Fatalf("part encoding %q", p.Header.Get("Content-Transfer-Encoding"))
		}
		body, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = strings.TrimRight(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n")
	}
	return m.Header, parts
}

var unsubToken = regexp.MustCompile(`/unsubscribe/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)`)

// The .eml of a marketing email: From, To, Reply-To, Subject, the RFC 8058
// headers, both parts, and an unsubscribe link signed with the home's secret
// for this recipient.
func TestProofEmailEML(t *testing.T) {
	campaign, home := proofCampaign(t)
	dir := t.TempDir()
	out := mustStepwise(t, "proof", campaign, "mail", "--home", home, "--key", "C0000001", "--out", dir)
	file := filepath.Join(dir, "C0000001.eml")
	if strings.TrimSpace(out) != file {
		t.Fatalf("printed %q, want the file %s", out, file)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	h, parts := emailParts(t, string(raw))
	for name, want := range map[string]string{"From": `"Shop" <news@shop.example>`, "To": "<olivia.lee1@example.net>",
		"Reply-To": "<help@shop.example>", "Subject": "Hello Olivia", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	lu := h.Get("List-Unsubscribe")
	m := unsubToken.FindStringSubmatch(lu)
	if m == nil || !strings.HasPrefix(lu, "<http") {
		t.Fatalf("List-Unsubscribe %q", lu)
	}
	secret, err := os.ReadFile(filepath.Join(home, "unsubscribe.key"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := unsubscribe.Verify(secret, m[1])
	if err != nil {
		t.Fatalf("the link does not verify with the home's secret: %v", err)
	}
	if c.Recipient != "C0000001" || c.Address != "olivia.lee1@example.net" || c.Activity != "mail" || c.Campaign != "proof-demo" || c.Channel != "email" {
		t.Fatalf("claims %+v", c)
	}
	link := strings.Trim(lu, "<>")
	if want := "Hi Olivia, to unsubscribe: " + link; parts["text/plain"] != want {
		t.Errorf("text part %q, want %q", parts["text/plain"], want)
	}
	if want := `<p>Hi Olivia</p><p><a href="` + link + `">unsubscribe</a></p>`; parts["text/html"] != want {
		t.Errorf("html part %q, want %q", parts["text/html"], want)
	}
	// Printed (no --out): headers, both bodies, the link.
	printed := mustStepwise(t, "proof", campaign, "mail", "--home", home, "--key", "C0000001")
	for _, want := range []string{"=== email C0000001 ===", "Subject: Hello Olivia", "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
		"--- text/plain ---\nHi Olivia, to unsubscribe: http", "--- text/html ---\n<p>Hi Olivia</p>", "Unsubscribe: http"} {
		if !strings.Contains(printed, want) {
			t.Errorf("printed proof lacks %q:\n%s", want, printed)
		}
	}
	// Each proof's test run is recorded stopped once mail had run, not left
	// suspended (resumable) by the cancel.
	l, err := executor.OpenRead(home)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	runs, _, err := l.State.ListRuns(context.Background(), "proof-demo", state.Page{Limit: 10})
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs: %v %+v", err, runs)
	}
	for _, r := range runs {
		if !r.Test || r.Status != state.RunStopped || r.Reason != executor.ProofStopped {
			t.Errorf("proof run %s: test %v, %s (%s)", r.ID, r.Test, r.Status, r.Reason)
		}
	}
}

// SMS and push proofs are JSON: the address, the sender, the text; the
// title, body and data.
func TestProofSMSAndPushJSON(t *testing.T) {
	campaign, home := proofCampaign(t)
	dir := t.TempDir()
	mustStepwise(t, "proof", campaign, "text", "--home", home, "--key", "C0000001", "--out", dir)
	var sms channel.Proof
	readJSON(t, filepath.Join(dir, "C0000001.json"), &sms)
	want := channel.Proof{Recipient: "C0000001", Channel: "sms", To: "+17597961418", Sender: "Shop", Text: "Hi Olivia, your order ships today"}
	if !reflect.DeepEqual(sms, want) {
		t.Fatalf("sms proof %+v, want %+v", sms, want)
	}
	pushDir := t.TempDir()
	mustStepwise(t, "proof", campaign, "note", "--home", home, "--sample", "30", "--out", pushDir)
	files, _ := filepath.Glob(filepath.Join(pushDir, "*.json"))
	if len(files) != 30 {
		t.Fatalf("%d push proofs, want 30", len(files))
	}
	withToken := 0
	for _, f := range files {
		var p channel.Proof
		readJSON(t, f, &p)
		if p.Channel != "push" || !strings.HasPrefix(p.Title, "Hi ") || p.Body != "New arrivals" || p.Data["screen"] != "news" {
			t.Fatalf("%s: %+v", f, p)
		}
		switch {
		case p.To != "" && p.Skip == "":
			withToken++
		case p.To == "" && p.Skip != channel.ReasonNoAddress:
			t.Fatalf("%s: no token but skip %q", f, p.Skip)
		}
	}
	if withToken == 0 {
		t.Fatal("no push proof with a token")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// An unknown key names what keys look like; a non-channel activity names
// the channel activities.
func TestProofBadSelection(t *testing.T) {
	campaign, home := proofCampaign(t)
	_, errOut, code := stepwise(t, "proof", campaign, "mail", "--home", home, "--key", "C0000001", "--key", "nope")
	if code != 1 || !strings.Contains(errOut, `no recipient with key "nope" among its 30 recipients`) ||
		!strings.Contains(errOut, `keys look like "C0000001", "C0000002", "C0000003"`) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, errOut, code = stepwise(t, "proof", campaign, "all", "--home", home)
	if code != 2 || !strings.Contains(errOut, "activity all is a build-audience, not a channel activity; its channel activities: mail, text, note") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	_, errOut, code = stepwise(t, "proof", campaign, "mail", "--home", home, "--sample", "0")
	if code != 2 || !strings.Contains(errOut, "--sample 0: want 1 or more") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

var proofHeads = regexp.MustCompile(`(?m)^=== \S+ (\S+)`)

// --sample picks the same recipients every time, in any home; a smaller
// sample is a prefix of a larger one.
func TestProofSampleDeterministic(t *testing.T) {
	campaign, home := proofCampaign(t)
	heads := func(home, n string) []string {
		var keys []string
		for _, m := range proofHeads.FindAllStringSubmatch(mustStepwise(t, "proof", campaign, "text", "--home", home, "--sample", n), -1) {
			keys = append(keys, m[1])
		}
		return keys
	}
	a, b, c := heads(home, "3"), heads(t.TempDir(), "3"), heads(home, "5")
	if len(a) != 3 || !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c[:3]) {
		t.Fatalf("samples %v, %v, %v", a, b, c)
	}
	if reflect.DeepEqual(a, []string{"C0000001", "C0000002", "C0000003"}) {
		t.Fatalf("the sample is the first rows, not a random one: %v", a)
	}
}

// A test run keeps the first 5 rendered messages of each channel activity
// (preview RUN ACTIVITY.proofs); a live run sends the same messages, but
// for the run's own id, token and dates.
func TestTestRunProofsMatchLiveSend(t *testing.T) {
	campaign, home := proofCampaign(t)
	runID := func(out string) string {
		var s struct {
			RunID  string `json:"runId"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil || s.Status != "succeeded" {
			t.Fatalf("run: %v %s", err, out)
		}
		return s.RunID
	}
	test := runID(mustStepwise(t, "run", campaign, "--test", "--json", "--wait", "skip", "--home", home))
	live := runID(mustStepwise(t, "run", campaign, "--json", "--wait", "skip", "--home", home))
	printed := mustStepwise(t, "preview", "--home", home, test, "mail.proofs")
	if !strings.Contains(printed, "(5 rendered messages kept by the test run)") || !strings.Contains(printed, "List-Unsubscribe-Post: List-Unsubscribe=One-Click") {
		t.Fatalf("preview mail.proofs:\n%s", printed)
	}
	for _, act := range []string{"mail", "text", "note"} {
		var proofs []channel.Proof
		readJSON(t, filepath.Join(home, "blob", filepath.FromSlash(channel.ProofsKey(test, act))), &proofs)
		if len(proofs) != channel.ProofSample {
			t.Fatalf("%s: %d proofs, want %d", act, len(proofs), channel.ProofSample)
		}
		for i := 1; i < len(proofs); i++ {
			if proofs[i-1].Recipient >= proofs[i].Recipient {
				t.Fatalf("%s: proofs not in key order: %s, %s", act, proofs[i-1].Recipient, proofs[i].Recipient)
			}
		}
		recs, err := outbox.ReadFile(outbox.Path(executorOutbox(home), live, act))
		if err != nil {
			t.Fatal(err)
		}
		sent := map[string]*send.Message{}
		for i := range recs {
			sent[recs[i].Tags[send.TagRecipient]] = &recs[i].Message
		}
		for _, p := range proofs {
			m := sent[p.Recipient]
			if m == nil {
				t.Fatalf("%s: the live run did not send to %s", act, p.Recipient)
			}
			norm := func(s string) string { return unsubToken.ReplaceAllString(s, "/unsubscribe/TOKEN") }
			got := channel.Proof{Recipient: p.Recipient, Channel: m.Channel, To: m.To, From: m.From, ReplyTo: m.ReplyTo, Sender: m.Sender,
				Subject: m.Subject, Data: m.Data}
			for _, h := range m.Headers {
				got.Headers = append(got.Headers, send.Header{Name: h.Name, Value: norm(h.Value)})
			}
			if m.Channel == send.Push {
				got.Title, got.Body = m.Title, m.Text
			} else {
				got.HTML, got.Text = norm(m.HTML), norm(m.Text)
			}
			want := p
			want.EML, want.Date, want.UnsubscribeURL = "", got.Date, ""
			want.HTML, want.Text = norm(p.HTML), norm(p.Text)
			want.Headers = nil
			for _, h := range p.Headers {
				want.Headers = append(want.Headers, send.Header{Name: h.Name, Value: norm(h.Value)})
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %s: sent %+v\nproof %+v", act, p.Recipient, got, want)
			}
			if act != "mail" {
				continue
			}
			// The .eml is the bytes the sender builds of the live message,
			// but for the headers of the run (Message-ID, Date, X-Stepwise-Run/Token).
			eml, err := send.MIME(m, p.Date)
			if err != nil {
				t.Fatal(err)
			}
			ph, pp := emailParts(t, p.EML)
			lh, lp := emailParts(t, string(eml))
			if !reflect.DeepEqual(normAll(pp, norm), normAll(lp, norm)) {
				t.Fatalf("%s: parts differ:\n%v\n%v", p.Recipient, pp, lp)
			}
			skip := map[string]bool{"Message-Id": true, "Date": true, "X-Stepwise-Run": true, "X-Stepwise-Token": true, "Content-Type": true}
			for name := range lh {
				if !skip[name] && norm(ph.Get(name)) != norm(lh.Get(name)) {
					t.Errorf("%s: header %s: proof %q, live %q", p.Recipient, name, ph.Get(name), lh.Get(name))
				}
			}
			for name := range ph {
				if _, ok := lh[name]; !ok && !skip[name] {
					t.Errorf("%s: header %s only in the proof", p.Recipient, name)
				}
			}
		}
	}
}

func normAll(m map[string]string, f func(string) string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = f(v)
	}
	return out
}

func TestProofVisible(t *testing.T) {
	if got := visible("a\x1b[2Jb\nc\td\u009b", true); got != "a\\x1b[2Jb\nc\td\\x9b" {
		t.Fatalf("multiline: %q", got)
	}
	if got := visible("a\nb\r", false); got != "a\\x0ab\\x0d" {
		t.Fatalf("one line: %q", got)
	}
}

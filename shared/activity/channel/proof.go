package channel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/send"
)

// ProofSample is how many rendered messages a test run keeps per channel
// activity: the first by recipient key.
const ProofSample = 5

// Proof is one rendered message, exactly as the send path builds it.
type Proof struct {
	Recipient string `json:"recipient"`
	Channel   string `json:"channel"`
	// Variant is the experiment variant the recipient is assigned to.
	Variant string `json:"variant,omitempty"`
	// Skip is why a send would skip the recipient ("" when it would send).
	Skip    string        `json:"skip,omitempty"`
	To      string        `json:"to"`
	From    string        `json:"from,omitempty"`
	ReplyTo string        `json:"replyTo,omitempty"`
	Sender  string        `json:"sender,omitempty"`
	Subject string        `json:"subject,omitempty"`
	Headers []send.Header `json:"headers,omitempty"`
	HTML    string        `json:"html,omitempty"`
	// Text is the email's text part or the SMS text.
	Text  string            `json:"text,omitempty"`
	Title string            `json:"title,omitempty"`
	Body  string            `json:"body,omitempty"`
	Data  map[string]string `json:"data,omitempty"`
	// UnsubscribeURL is the one-click unsubscribe link (marketing email).
	UnsubscribeURL string `json:"unsubscribeUrl,omitempty"`
	// EML is the email as RFC 5322 bytes (send.MIME), dated Date.
	EML  string    `json:"eml,omitempty"`
	Date time.Time `json:"date,omitzero"`
	// Error is why the message does not render (the send skips it).
	Error string `json:"error,omitempty"`
}

// ProofsKey is where a test run keeps an activity's sample of proofs.
func ProofsKey(run, act string) string { return "runs/" + run + "/" + act + "/_proofs.json" }

func proofPartKey(run, act string, index int) string {
	return fmt.Sprintf("runs/%s/%s/_proofs/%06d.json", run, act, index)
}

// ErrNoProofs is returned by ReadProofs when the activity kept none (not a
// channel activity of a test run, or not run yet).
var ErrNoProofs = errors.New("no proofs")

// ReadProofs reads the sample of proofs a test run kept for an activity.
func ReadProofs(ctx context.Context, store blob.Store, run, act string) ([]Proof, error) {
	ps, err := readProofFile(ctx, store, ProofsKey(run, act))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%w: activity %s of run %s kept no proofs (only channel activities of test runs do)", ErrNoProofs, act, run)
	}
	return ps, err
}

func readProofFile(ctx context.Context, store blob.Store, key string) ([]Proof, error) {
	rc, err := store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	var ps []Proof
	if err := json.Unmarshal(data, &ps); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return ps, nil
}

func writeProofFile(ctx context.Context, store blob.Store, key string, ps []Proof) error {
	if ps == nil {
		ps = []Proof{}
	}
	data, err := json.MarshalIndent(ps, "", "  ")
	if err != nil {
		return err
	}
	return store.Put(ctx, key, bytes.NewReader(data))
}

// newProof describes a rendered message (nil msg: renderErr says why not).
func newProof(rn *renderer, r *recipient, variant string, msg *send.Message, renderErr error) Proof {
	p := Proof{Recipient: r.key, Channel: rn.kind.Type, Variant: variant, To: r.address}
	if renderErr != nil {
		p.Error = renderErr.Error()
		return p
	}
	p.To, p.From, p.ReplyTo, p.Sender, p.Subject = msg.To, msg.From, msg.ReplyTo, msg.Sender, msg.Subject
	p.Headers, p.Data = msg.Headers, msg.Data
	switch msg.Channel {
	case send.Email:
		p.HTML, p.Text = msg.HTML, msg.Text
		p.Date = rn.issuedAt.UTC()
		if eml, err := send.MIME(msg, p.Date); err == nil {
			p.EML = string(eml)
		} else {
			p.Error = "mime: " + err.Error()
		}
	case send.SMS:
		p.Text = msg.Text
	case send.Push:
		p.Title, p.Body = msg.Title, msg.Text
	}
	if rn.unsub != nil {
		p.UnsubscribeURL, _ = rn.unsub(r.key, r.address)
	}
	return p
}

// keepProof keeps the message of r (untagged: it tags the proofs it makes)
// among the slice's sample: the first
// ProofSample by recipient key (test runs).
func (d *deliverer) keepProof(r *recipient, msg *send.Message, err error) {
	if !d.proofWanted(r) {
		return // most messages of a large run: nothing to build
	}
	if msg != nil {
		m := *msg // the message is the caller's
		d.rn.tag(&m, r, d.token(r))
		msg = &m
	}
	p := newProof(d.rn, r, d.variant(r), msg, err)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.wanted(r) {
		return
	}
	i := sort.Search(len(d.proofs), func(i int) bool { return d.proofs[i].Recipient > p.Recipient })
	d.proofs = slices.Insert(d.proofs, i, p)
	if len(d.proofs) > ProofSample {
		d.proofs = d.proofs[:ProofSample]
	}
}

// proofWanted reports whether r's message could still be kept as a proof
// (the sample keeps the smallest keys). Once false for r it stays false.
func (d *deliverer) proofWanted(r *recipient) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.wanted(r)
}

// wanted is proofWanted with d.mu held.
func (d *deliverer) wanted(r *recipient) bool {
	return len(d.proofs) < ProofSample || r.key < d.proofs[len(d.proofs)-1].Recipient
}

// writeSliceProofs stores a test slice's sample of proofs.
func (d *deliverer) writeSliceProofs(t *datatask.Task, index int) error {
	if !d.test {
		return nil
	}
	d.mu.Lock()
	ps := d.proofs
	d.mu.Unlock()
	if err := writeProofFile(t.Ctx, t.Engine.Store(), proofPartKey(d.run, d.act, index), ps); err != nil {
		return fmt.Errorf("write the slice's proofs: %w", err)
	}
	return nil
}

// mergeProofs keeps the first ProofSample proofs of the slices by recipient
// key as the activity's sample (test runs).
func mergeProofs(t *datatask.Task, slices []activity.Slice) error {
	if !t.Req.Run.Test {
		return nil
	}
	store := t.Engine.Store()
	var all []Proof
	for _, sl := range slices {
		ps, err := readProofFile(t.Ctx, store, proofPartKey(t.Req.Run.ID, t.Req.Activity, sl.Index))
		if errors.Is(err, blob.ErrNotFound) {
			continue // a slice sent before proofs were kept
		}
		if err != nil {
			return fmt.Errorf("read the slices' proofs: %w", err)
		}
		all = append(all, ps...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Recipient < all[j].Recipient })
	if len(all) > ProofSample {
		all = all[:ProofSample]
	}
	if err := writeProofFile(t.Ctx, store, ProofsKey(t.Req.Run.ID, t.Req.Activity), all); err != nil {
		return fmt.Errorf("write the proofs: %w", err)
	}
	return nil
}

// Selection picks the recipients to render: Keys (values of the
// population's key, several columns joined with "|"), or else a
// deterministic sample of Sample recipients.
type Selection struct {
	Keys   []string
	Sample int
}

// RenderProofs renders the selected recipients of a channel activity whose
// plan a test run of call.Req.Run.ID wrote, with the send path's checks and
// renderer. call is the activity's task call (phase and slice unused).
func RenderProofs(ctx context.Context, d *Deps, call *activity.Call, sel Selection) ([]Proof, error) {
	if call.Activity == nil {
		return nil, fmt.Errorf("no activity")
	}
	kind, ok := Kinds[call.Activity.Type]
	if !ok {
		return nil, fmt.Errorf("activity %s is a %s, not a channel activity (email, sms, push)", call.Req.Activity, call.Activity.Type)
	}
	_, cfg, err := call.Plan.Decoded(call.Req.Activity)
	if err != nil {
		return nil, err
	}
	x, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("activity %s: config %T is not a channel config", call.Req.Activity, cfg)
	}
	req := *call.Req
	req.Run.Test = true
	c := *call
	c.Req = &req
	t, err := datatask.Open(ctx, &d.Data, &c)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	plan := dataset.Ref(planRef(req.Run.ID, req.Activity))
	pm, err := dataset.ReadManifest(ctx, t.Engine.Store(), plan)
	if errors.Is(err, dataset.ErrNotFound) {
		return nil, fmt.Errorf("activity %s did not run in run %s (no send plan)", req.Activity, req.Run.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("read the plan: %w", err)
	}
	dl, err := newDeliverer(t, d, kind, x, pm)
	if err != nil {
		return nil, err
	}
	type pick struct {
		r     *recipient
		skip  string // the plan's skip reason
		rank  [32]byte
		order int
	}
	want := map[string]int{}
	for i, k := range sel.Keys {
		if _, dup := want[k]; !dup {
			want[k] = i
		}
	}
	n := sel.Sample
	if len(sel.Keys) == 0 && n <= 0 {
		return nil, fmt.Errorf("nothing selected: give keys or a sample size above 0")
	}
	var picks []pick
	var examples []string
	def := t.Location()
	zones := map[string]*time.Location{}
	_, err = t.Engine.Stream(ctx, plan, dataset.StreamOptions{BatchSize: 512}, func(b *dataset.Batch) error {
		col := map[string]int{}
		for i, c := range b.Columns {
			col[c.Name] = i
		}
		for _, row := range b.Rows {
			key := recipientKey(row, col, pm.Key)
			if len(examples) < 3 {
				examples = append(examples, key)
			}
			var p pick
			if len(sel.Keys) > 0 {
				i, ok := want[key]
				if !ok {
					continue
				}
				p.order = i
			} else {
				p.rank = sha256.Sum256([]byte(req.Activity + "\x00" + key))
				if len(picks) >= n && bytes.Compare(p.rank[:], picks[len(picks)-1].rank[:]) >= 0 {
					continue
				}
			}
			r := &recipient{key: key}
			r.row = dataset.Int(row[col[colRow]])
			r.address, _ = row[col[colAddress]].(string)
			r.address = strings.TrimSpace(r.address)
			r.consent, _ = row[col[colConsent]].(bool)
			tz, _ := row[col[colTZ]].(string)
			r.loc = location(tz, def, zones)
			r.wave, _ = row[col[colWave]].(time.Time)
			r.assign = assign(x.Experiment, req.Run.ID, key)
			r.values = make(map[string]any, len(b.Columns))
			for i, c := range b.Columns {
				if !strings.HasPrefix(c.Name, "_sw_") {
					r.values[c.Name] = row[i]
				}
			}
			p.r = r
			p.skip, _ = row[col[colSkip]].(string)
			if len(sel.Keys) > 0 {
				picks = append(picks, p)
				continue
			}
			i := sort.Search(len(picks), func(i int) bool { return bytes.Compare(picks[i].rank[:], p.rank[:]) > 0 })
			picks = slices.Insert(picks, i, p)
			if len(picks) > n {
				picks = picks[:n]
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the plan: %w", err)
	}
	if len(sel.Keys) > 0 {
		found := map[string]bool{}
		for _, p := range picks {
			found[p.r.key] = true
		}
		var missing []string
		for _, k := range sel.Keys {
			if !found[k] {
				missing = append(missing, fmt.Sprintf("%q", k))
			}
		}
		if len(missing) > 0 {
			ex := "the population is empty"
			if len(examples) > 0 {
				ex = "keys look like " + strings.Join(quoteAll(examples), ", ")
			}
			return nil, fmt.Errorf("activity %s: no recipient with key %s among its %d recipients (key %s; %s)",
				req.Activity, strings.Join(missing, ", "), pm.Rows, strings.Join(pm.Key, "|"), ex)
		}
		sort.SliceStable(picks, func(i, j int) bool { return picks[i].order < picks[j].order })
	}
	out := make([]Proof, 0, len(picks))
	for _, p := range picks {
		r := p.r
		skip := p.skip
		if skip == "" {
			skip = dl.static(r)
		}
		msg, rerr := dl.rn.render(dl.prep.arm(r.assign.variant), r, "")
		pr := newProof(dl.rn, r, dl.variant(r), msg, rerr)
		if rerr != nil && skip == "" {
			skip = ReasonRender + rerr.Error()
		}
		pr.Skip = skip
		out = append(out, pr)
	}
	return out, nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

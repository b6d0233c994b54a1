// Package channelfn builds the Lambdas of the channel activities (email, sms, push).
// It is apart from lambdafn so that the flow and run-level functions, which link
// lambdafn, stay free of the channel family and of DuckDB.
package channelfn

import (
	"context"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/secrets"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/proof"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Function returns the Lambda named name: it sends through sender, capped at
// SEND_RATE under the provider's shared ceiling, and signs one-click unsubscribe links
// for PUBLIC_URL with the secret UNSUBSCRIBE_SECRET_ARN (read here, once per
// container) or UNSUBSCRIBE_SECRET. athena numbers plans on Athena under
// engine athena (nil: every plan runs on DuckDB in the function).
func Function(ctx context.Context, st *lambdafn.Stack, name, provider string, sender send.Sender, athena channel.Athena) (*lambdafn.Function, error) {
	if err := st.Config.ReadUnsubscribeSecret(ctx, secrets.Reader(st.AWS)); err != nil {
		return nil, err
	}
	reg := activity.NewRegistry()
	channel.Register(reg, &channel.Deps{Data: datatask.Deps{Blob: st.Blob, Buckets: st.Buckets, State: st.State}, Ledger: st.State, Caps: st.State, Keys: st.State, Suppressions: st.State,
		Sender: send.Limit(sender, provider, st.Config.SendRate),
		Links:  channel.SignedLinks{BaseURL: st.Config.PublicURL, Secret: []byte(st.Config.UnsubscribeSecret)},
		// A listed plan's slices are read by the distributed Map from the run bucket.
		RunBucket: channel.RunBucket{Bucket: st.Config.Bucket, Prefix: st.Config.Prefix},
		Athena:    athena})
	fn := st.Function(name, reg)
	return fn, nil
}

// Renderer renders proofs again from a run's send plan in the API function
// (api.RunProofRenderer): the channel family bound to the stores as
// Function binds it, without a sender or a send ledger, so nothing can be
// sent.
type Renderer struct {
	keys    proof.Keys
	deps    channel.Deps
	plans   *runner.Plans
	env     *activity.Env
	scratch *lambdafn.Scratch
}

// Stores are what the renderer reads: the run store (send plans, plans,
// populations) and the run-state store (suppressions, the runs' plans).
type Stores struct {
	Blob    blob.Store
	Buckets func(bucket string) (blob.Store, error)
	State   state.Store
	WorkDir string
}

// StackStores are the stack's stores.
func StackStores(st *lambdafn.Stack) Stores {
	return Stores{Blob: st.Blob, Buckets: st.Buckets, State: st.State, WorkDir: st.Config.WorkDir}
}

// NewRenderer returns the renderer of the runs in s; links signs the
// unsubscribe links as the channel functions do.
func NewRenderer(s Stores, links channel.Links) *Renderer {
	reg := activity.NewRegistry()
	r := &Renderer{keys: s.State, env: &activity.Env{WorkDir: s.WorkDir}, scratch: lambdafn.NewScratch(s.WorkDir),
		deps: channel.Deps{Data: datatask.Deps{Blob: s.Blob, Buckets: s.Buckets, State: s.State}, Caps: s.State, Keys: s.State, Suppressions: s.State, Links: links}}
	channel.Register(reg, &r.deps)
	r.plans = &runner.Plans{Blob: s.Blob, Registry: reg}
	return r
}

// RenderRunProofs renders the selected recipients of the run's channel
// activity act, in a scratch folder of its own, from the plan the API
// recorded when it started the run (proof.RememberPlan).
func (r *Renderer) RenderRunProofs(ctx context.Context, run state.Run, act string, sel channel.Selection) ([]channel.Proof, error) {
	digest, err := proof.PlanOf(ctx, r.keys, run.ID, time.Now())
	if err != nil {
		return nil, err
	}
	var ps []channel.Proof
	err = r.scratch.Do(func(dir string) error {
		env := r.env.Scope(dir)
		defer env.Close()
		ps, err = proof.Render(ctx, proof.Host{Plans: r.plans, Env: env, Channel: &r.deps}, run, digest, act, sel)
		return err
	})
	return ps, err
}

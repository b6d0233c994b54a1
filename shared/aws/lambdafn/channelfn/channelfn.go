// Package channelfn builds the Lambdas of the channel activities (email, sms, push).
// It is apart from lambdafn so that the flow and run-level functions, which link
// lambdafn, stay free of the channel family and of DuckDB.
package channelfn

import (
	"context"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/secrets"
	"github.com/stepwise-run/stepwise/shared/send"
)

// Function returns the Lambda named name: it sends through sender, capped at
// SEND_RATE under the provider's shared ceiling, and signs one-click unsubscribe links
// for PUBLIC_URL with the secret UNSUBSCRIBE_SECRET_ARN (read here, once per
// container) or UNSUBSCRIBE_SECRET.
func Function(ctx context.Context, st *lambdafn.Stack, name, provider string, sender send.Sender) (*lambdafn.Function, error) {
	if err := st.Config.ReadUnsubscribeSecret(ctx, secrets.Reader(st.AWS)); err != nil {
		return nil, err
	}
	reg := activity.NewRegistry()
	channel.Register(reg, &channel.Deps{Data: datatask.Deps{Blob: st.Blob, Buckets: st.Buckets, State: st.State}, Ledger: st.State, Caps: st.State, Keys: st.State, Suppressions: st.State,
		Sender: send.Limit(sender, provider, st.Config.SendRate),
		Links:  channel.SignedLinks{BaseURL: st.Config.PublicURL, Secret: []byte(st.Config.UnsubscribeSecret)}})
	fn := st.Function(name, reg)
	return fn, nil
}

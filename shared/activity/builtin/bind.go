package builtin

import (
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/activity/flow"
	"github.com/stepwise-run/stepwise/shared/activity/targeting"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/fileroot"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Store is the state store as the activity families use it.
type Store interface {
	state.Audiences
	state.Incrementals
	tablelog.Legacy
	channel.Ledger
	channel.Caps
	channel.Keys
	channel.Suppressions
}

// Host is what one host (the local executor, a benchmark, a test) offers
// the activity families.
type Host struct {
	Blob        blob.Store
	State       Store
	Buckets     func(bucket string) (blob.Store, error)
	Warehouse   blob.Store
	MemoryLimit int64
	Engine      *dataset.Engine
	Roots       *fileroot.Roots
	Sender      send.Sender
	Links       channel.Links
	Channel     *channel.Options
	Signals     channel.Signals
	Alerter     flow.Alerter
	Trigger     flow.Triggerer
	// Athena runs targeting on the Athena engine (nil: not here).
	Athena targeting.Athena
	// RunBucket locates the run store for Step Functions' S3 readers and
	// writers (a channel's distributed Map over its listed slices).
	RunBucket channel.RunBucket
}

// Families are the dependencies of each family. A registry bound to them
// sees later changes (a trigger set once the API is up).
type Families struct {
	Targeting targeting.Deps
	Data      data.Deps
	Channel   channel.Deps
	Flow      flow.Deps
}

// NewFamilies hands a host's parts to the families that use them.
func NewFamilies(h Host) *Families {
	dk := datatask.Deps{Blob: h.Blob, Buckets: h.Buckets, Warehouse: h.Warehouse, MemoryLimit: h.MemoryLimit, Engine: h.Engine}
	f := &Families{
		Data:    data.Deps{Data: dk, Roots: h.Roots},
		Channel: channel.Deps{Data: dk, Sender: h.Sender, Links: h.Links, Options: h.Channel, Signals: h.Signals, RunBucket: h.RunBucket, Athena: h.Athena},
		Flow:    flow.Deps{Alerter: h.Alerter, Trigger: h.Trigger},
	}
	f.Targeting.Data = dk
	f.Targeting.Athena = h.Athena
	if a, ok := h.Athena.(data.Athena); ok {
		f.Data.Athena = a // update-data's MERGE on Iceberg
	}
	if h.State != nil {
		for _, d := range []*datatask.Deps{&f.Targeting.Data, &f.Data.Data, &f.Channel.Data} {
			d.State = h.State
		}
		f.Targeting.Audiences, f.Targeting.Incrementals = h.State, h.State
		f.Channel.Ledger, f.Channel.Caps, f.Channel.Keys, f.Channel.Suppressions = h.State, h.State, h.State, h.State
	}
	return f
}

// Bind returns a registry of every activity type whose tasks run against f.
func Bind(f *Families) *activity.Registry {
	r := activity.NewRegistry()
	targeting.Register(r, &f.Targeting)
	data.Register(r, &f.Data)
	flow.Register(r, &f.Flow)
	channel.Register(r, &f.Channel)
	return r
}

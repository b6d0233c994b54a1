// Package local plugs the API into a local Stepwise home: runs execute in-process on
// the local executor (asynchronously, a bounded number at a time), previews read the
// home's datasets, uploads land under home/uploads.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/flow"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/preview"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/feedback"
	"github.com/stepwise-run/stepwise/shared/fileroot"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/state"
)

// ErrBusy: too many runs are queued.
var ErrBusy = errors.New("too many runs queued")

// Backend runs campaigns of one local home for the API.
type Backend struct {
	L *executor.Local
	// Wait is how Wait states behave (real by default).
	WaitMode interp.WaitMode
	// Concurrency bounds the runs executing at once; MaxQueued the runs started
	// and not finished (beyond: ErrBusy).
	Concurrency, MaxQueued int
	Logger                 *slog.Logger

	once     sync.Once
	sem      chan struct{}
	mu       sync.Mutex
	cancel   map[string]context.CancelFunc
	queued   int
	wg       sync.WaitGroup
	progMu   sync.Mutex
	programs map[string]*compile.Program
	prevOnce sync.Once
	preview  *preview.Previewer
}

var (
	_ api.Executor  = (*Backend)(nil)
	_ api.Previewer = (*Backend)(nil)
	_ api.Uploads   = (*Backend)(nil)
	_ api.Receiver  = (*Backend)(nil)
	_ api.Restarter = (*Backend)(nil)
)

func (b *Backend) init() {
	b.once.Do(func() {
		if b.Concurrency <= 0 {
			b.Concurrency = 4
		}
		if b.MaxQueued <= 0 {
			b.MaxQueued = 10000
		}
		if b.Logger == nil {
			b.Logger = slog.Default()
		}
		b.sem = make(chan struct{}, b.Concurrency)
		b.cancel = map[string]context.CancelFunc{}
		b.programs = map[string]*compile.Program{}
	})
}

// Start implements api.Executor: the run executes in the background.
func (b *Backend) Start(ctx context.Context, run state.Run, v *state.Version, p *compile.Program) error {
	b.init()
	if p == nil {
		if v == nil {
			return fmt.Errorf("no program for run %s", run.ID)
		}
		var err error
		if p, err = b.program(ctx, v); err != nil {
			return err
		}
	}
	return b.start(run, p, false)
}

// Restart implements api.Restarter: a run this server does not execute
// continues in the background from its recorded program (activities
// re-execute; the send ledger keeps anyone reached from being sent to again).
func (b *Backend) Restart(ctx context.Context, run state.Run) error {
	b.init()
	b.mu.Lock()
	_, live := b.cancel[run.ID]
	b.mu.Unlock()
	if live {
		return nil // its execution polls the status and goes on
	}
	p, err := b.L.Program(ctx, run)
	if err != nil && run.Version > 0 {
		// A run of a published version: its bundle is the version's.
		v, verr := b.L.State.GetVersion(ctx, run.CampaignID, run.Version)
		if verr != nil {
			return fmt.Errorf("version %d of %s: %w", run.Version, run.CampaignID, verr)
		}
		p, err = b.program(ctx, &v)
	}
	if err != nil {
		return err
	}
	return b.start(run, p, true)
}

func (b *Backend) start(run state.Run, p *compile.Program, resume bool) error {
	b.mu.Lock()
	if b.queued >= b.MaxQueued {
		b.mu.Unlock()
		return ErrBusy
	}
	b.queued++
	rctx, cancel := context.WithCancel(context.Background())
	b.cancel[run.ID] = cancel
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer func() {
			b.mu.Lock()
			b.queued--
			delete(b.cancel, run.ID)
			b.mu.Unlock()
			cancel()
		}()
		select {
		case b.sem <- struct{}{}:
		case <-rctx.Done():
			return
		}
		defer func() { <-b.sem }()
		_, err := b.L.Run(rctx, p, executor.Options{RunID: run.ID, IdempotencyKey: run.IdempotencyKey, Params: run.Params,
			Test: run.Test, Version: run.Version, Wait: b.WaitMode, Resume: resume})
		if err != nil && !errors.Is(err, executor.ErrStopped) {
			b.Logger.Info("run ended with an error", "run", run.ID, "campaign", run.CampaignID)
		}
	}()
	return nil
}

// SetTriggerer makes t (the API server, under serve) the service that an end
// activity's trigger: calls to start the other campaign's run.
func (b *Backend) SetTriggerer(t flow.Triggerer) {
	b.L.Families.Flow.Trigger = t
}

// Recover restarts the runs a previous server left running (it was killed or
// crashed): call it at start-up, before serving, while no run executes. A
// run whose program is still known resumes (its activities re-execute; the
// send ledger keeps anyone from being sent to twice); the others are
// recorded failed with the reason. It returns how many of each.
func (b *Backend) Recover(ctx context.Context) (resumed, failed int, err error) {
	b.init()
	runs, err := b.L.Orphans(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("list the runs left running: %w", err)
	}
	for _, run := range runs {
		_, p, perr := b.L.Resumable(ctx, run.ID)
		if perr == nil {
			perr = b.start(run, p, true)
		}
		if perr != nil {
			reason := "the server stopped while the run was executing, and it cannot resume: " + perr.Error()
			if err := b.L.Fail(ctx, run.ID, reason); err != nil {
				return resumed, failed, fmt.Errorf("record run %s failed: %w", run.ID, err)
			}
			b.Logger.Warn("run left running by a stopped server recorded failed", "run", run.ID, "campaign", run.CampaignID, "reason", reason)
			failed++
			continue
		}
		b.Logger.Info("run left running by a stopped server resumed", "run", run.ID, "campaign", run.CampaignID)
		resumed++
	}
	return resumed, failed, nil
}

// Stop implements api.Executor: the run's context is cancelled.
func (b *Backend) Stop(ctx context.Context, run state.Run) error {
	b.init()
	b.mu.Lock()
	c := b.cancel[run.ID]
	b.mu.Unlock()
	if c != nil {
		c()
	}
	return nil
}

// Wait waits for the runs started to end (or ctx).
func (b *Backend) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StopAll cancels every run in flight (shutdown): they are recorded interrupted (suspended), resumable.
func (b *Backend) StopAll() {
	b.init()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.cancel {
		c()
	}
}

// program loads a published version's program from its bundle (runs stay pinned to
// the catalog and templates they were published with).
func (b *Backend) program(ctx context.Context, v *state.Version) (*compile.Program, error) {
	b.progMu.Lock()
	defer b.progMu.Unlock()
	if p, ok := b.programs[v.ASLRef]; ok {
		return p, nil
	}
	rc, err := b.L.Blob.Get(ctx, v.ASLRef)
	if err != nil {
		return nil, fmt.Errorf("load the bundle of %s version %d: %w", v.CampaignID, v.Number, err)
	}
	defer rc.Close()
	var bundle compile.Bundle
	if err := json.NewDecoder(rc).Decode(&bundle); err != nil {
		return nil, fmt.Errorf("bundle of %s version %d: %w", v.CampaignID, v.Number, err)
	}
	p, err := bundle.Compile(ctx, b.L.Compiler.Registry, b.L.Compiler.Checkers, b.L.Compiler.Schemas)
	if err != nil {
		return nil, fmt.Errorf("bundle of %s version %d does not compile: %w", v.CampaignID, v.Number, err)
	}
	if len(b.programs) > 200 {
		b.programs = map[string]*compile.Program{}
	}
	b.programs[v.ASLRef] = p
	return p, nil
}

// Preview implements api.Previewer.
func (b *Backend) Preview(ctx context.Context, ref string, offset int64, limit int) (*api.Preview, error) {
	b.prevOnce.Do(func() {
		b.preview = &preview.Previewer{Options: dataset.Options{Store: b.L.Blob, WorkDir: filepath.Join(b.L.Home, "work"), Threads: 1}}
	})
	return b.preview.Preview(ctx, ref, offset, limit)
}

// Close releases the preview engine.
func (b *Backend) Close() error {
	b.prevOnce.Do(func() {})
	if b.preview == nil {
		return nil
	}
	return b.preview.Close()
}

// RecordFeedback implements api.FeedbackRecorder: the records go to the home's
// message_feedback table.
func (b *Backend) RecordFeedback(ctx context.Context, recs ...feedback.Record) error {
	_, err := b.L.AppendFeedback(ctx, recs)
	return err
}

// NewUpload implements api.Uploads: the file goes to PUT /v1/uploads/{id}/{name} and
// lands at home/uploads/{id}/{name}.
func (b *Backend) NewUpload(ctx context.Context, name string) (api.Upload, error) {
	id := state.NewRunID()
	exp := time.Now().Add(time.Hour).UTC()
	return api.Upload{File: b.uploadPath(id, name), URL: "/v1/uploads/" + id + "/" + name, Method: "PUT",
		Headers: map[string]string{"Content-Type": "application/octet-stream"}, ExpiresAt: &exp}, nil
}

func (b *Backend) uploadPath(id, name string) string {
	return filepath.Join(b.L.Home, fileroot.UploadsDir, id, name)
}

// Receive implements api.Receiver: the file is written whole, then renamed in place.
func (b *Backend) Receive(ctx context.Context, id, name string, body io.Reader) (api.Upload, error) {
	dst := b.uploadPath(id, name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return api.Upload{}, err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".upload-*")
	if err != nil {
		return api.Upload{}, err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return api.Upload{}, err
	}
	if err := f.Close(); err != nil {
		return api.Upload{}, err
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return api.Upload{}, err
	}
	return api.Upload{File: dst, URL: "/v1/uploads/" + id + "/" + name, Method: "PUT"}, nil
}

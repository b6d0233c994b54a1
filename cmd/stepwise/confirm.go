package main

import (
	"fmt"
	"io"
	"regexp"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

func init() {
	register("confirm", command{summary: "release a channel activity held by confirm: true",
		usage: "confirm [--home DIR] RUN_ID ACTIVITY", run: runConfirm})
}

var activityID = regexp.MustCompile(`^[a-zA-Z0-9_]{1,64}$`)

func runConfirm(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("confirm", stderr)
	home := fs.String("home", ".stepwise", "local state folder")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "stepwise confirm: expected a run id and an activity id")
		return 2
	}
	run, act := pos[0], pos[1]
	if !activityID.MatchString(act) || run == "" {
		fmt.Fprintf(stderr, "stepwise confirm: invalid activity id %q\n", act)
		return 2
	}
	// The process running the run holds the store: signal it. The channel's
	// poll loop takes the signal within a minute (at once with --wait skip)
	// and records the confirmation in the state store.
	if err := executor.Send(*home, run, channel.ConfirmSignal(act)); err != nil {
		fmt.Fprintf(stderr, "stepwise confirm: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "confirmation sent: %s of run %s sends at its next check (within %d s).\n", act, run, channel.ConfirmPollSeconds)
	fmt.Fprintf(stdout, "If no `stepwise run` is running it, `stepwise resume %s` continues it.\n", run)
	return 0
}

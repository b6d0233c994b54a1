// Command stepwise validates, compiles, draws and runs campaigns locally.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sort"
)

// command is one subcommand.
type command struct {
	summary string
	usage   string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name string, c command) { commands[name] = c }

func main() {
	tuneGC()
	// STEPWISE_CPUPROFILE=FILE writes a CPU profile (go tool pprof) of the command.
	if path := os.Getenv("STEPWISE_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			code := run(os.Args[1:], os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 2 && args[0] == "help" {
		if c, ok := commands[args[1]]; ok {
			return c.run([]string{"-h"}, stdout, stdout) // the command's usage, on stdout
		}
	}
	if len(args) == 0 || args[0] == "help" || isHelp(args[0]) {
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "stepwise: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func usage(w io.Writer) {
	fmt.Fprintln(w, "stepwise: orchestrated multi-step campaigns, compiled to AWS Step Functions.")
	fmt.Fprintln(w, "\nUsage:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  stepwise %-60s %s\n", commands[n].usage, commands[n].summary)
	}
	fmt.Fprintln(w, "\n`stepwise help COMMAND` or `stepwise COMMAND -h` describes a command's flags.")
}

// tuneGC trades a little memory for less collector work: rendering messages
// allocates many short-lived values, and the default GOGC=100 spends a fifth
// of a large run's CPU collecting them. A soft limit keeps the heap bounded.
// GOGC and GOMEMLIMIT in the environment win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

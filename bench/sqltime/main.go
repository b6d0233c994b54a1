// Command sqltime runs variants of a statement in one DuckDB (every core, UTC,
// one connection), in turn, and prints each one's process CPU time (DuckDB's
// threads included: a shared machine's load moves it far less than wall
// time) and wall time, the fastest of --repeat by CPU, and every run's CPU.
// The file: statements under "-- setup" run once first; each other "-- name"
// line starts a variant; a statement ends with ";" at the end of a line.
// Write variants as COPY … TO files to compare their bytes (cmp).
//
//	STEPWISE_TRACE_SQL=full stepwise run …   # the run's statements, to copy from
//	go run ./bench/sqltime --repeat 3 variants.sql
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sqltime:", err)
	os.Exit(1)
}

func main() {
	repeat := flag.Int("repeat", 3, "runs of each variant, taken in turn")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: sqltime [--repeat N] FILE.sql")
		os.Exit(2)
	}
	b, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	type variant struct {
		name  string
		stmts []string
	}
	var vs []*variant
	cur := &variant{name: "setup"}
	vs = append(vs, cur)
	var stmt strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "-- ") && stmt.Len() == 0 {
			cur = &variant{name: strings.TrimPrefix(line, "-- ")}
			vs = append(vs, cur)
			continue
		}
		stmt.WriteString(line + "\n")
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			cur.stmts = append(cur.stmts, stmt.String())
			stmt.Reset()
		}
	}
	db, err := sql.Open("duckdb", fmt.Sprintf("?threads=%d", runtime.NumCPU()))
	if err != nil {
		fail(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		fail(err)
	}
	run := func(v *variant) (time.Duration, time.Duration) {
		c0, w0 := cpu(), time.Now()
		for _, s := range v.stmts {
			if _, err := db.Exec(s); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n%s\n", v.name, err, s)
				os.Exit(1)
			}
		}
		return cpu() - c0, time.Since(w0)
	}
	for _, v := range vs {
		if strings.HasPrefix(v.name, "setup") {
			run(v)
		}
	}
	best := map[string][2]time.Duration{}
	all := map[string][]string{}
	for i := 0; i < *repeat; i++ {
		for _, v := range vs {
			if strings.HasPrefix(v.name, "setup") {
				continue
			}
			c, w := run(v)
			all[v.name] = append(all[v.name], fmt.Sprintf("%.2f", c.Seconds()))
			if b, ok := best[v.name]; !ok || c < b[0] {
				best[v.name] = [2]time.Duration{c, w}
			}
		}
	}
	for _, v := range vs {
		if b, ok := best[v.name]; ok {
			fmt.Printf("%-40s cpu %6.2fs wall %6.2fs  (cpu each: %s)\n", v.name, b[0].Seconds(), b[1].Seconds(), strings.Join(all[v.name], " "))
		}
	}
}

package awsshape_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/sampledata"

	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Prices (us-east-1, x86_64, on-demand; checked 2026-11) used by the profile.
const (
	lambdaGBSecond     = 0.0000166667 // $ per GB-second
	lambdaRequest      = 0.20 / 1e6   // $ per invocation
	ephemeralGBSecond  = 0.0000000309 // $ per GB-second above 512 MB of /tmp
	sfnTransition      = 0.025 / 1000 // $ per state transition (Standard)
	s3PutRequest       = 0.005 / 1000 // PUT, COPY, POST, LIST
	s3GetRequest       = 0.0004 / 1000
	dynamoWriteRequest = 0.625 / 1e6 // on-demand write request unit
	dynamoReadRequest  = 0.125 / 1e6 // on-demand read request unit
)

// costProfile is what TestCostProfile measures.
type costProfile struct {
	Customers   int                         `json:"customers"`
	Campaign    string                      `json:"campaign"`
	Counts      map[string]map[string]int64 `json:"counts"`
	Functions   map[string]*functionCost    `json:"functions"`
	Transitions int                         `json:"stateTransitions"`
	S3          map[string]int              `json:"s3Requests"`
	DynamoDB    map[string]int              `json:"dynamodbRequests"`
	WallSeconds float64                     `json:"wallSeconds"`
	Dollars     map[string]float64          `json:"dollars"`
}

type functionCost struct {
	MemoryMB    int     `json:"memoryMB"`
	EphemeralMB int     `json:"ephemeralMB"`
	Invocations int     `json:"invocations"`
	Seconds     float64 `json:"seconds"`    // billed duration (wall)
	CPUSeconds  float64 `json:"cpuSeconds"` // measured CPU time, all threads
	GBSeconds   float64 `json:"gbSeconds"`
}

// TestCostProfile runs the reference campaign AWS-style on a generated data
// set of STEPWISE_COST_CUSTOMERS customers and measures what AWS bills:
// each function's duration and CPU time under RIE (GB-seconds at the
// template's memory), the state transitions, and the S3 and DynamoDB
// requests. It prints the dollars and writes the profile as JSON to
// STEPWISE_COST_OUT when set. Not part of the default suite (it takes
// minutes at 1M customers): set STEPWISE_COST_CUSTOMERS to run it.
func TestCostProfile(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("STEPWISE_COST_CUSTOMERS"))
	if n <= 0 {
		t.Skip("set STEPWISE_COST_CUSTOMERS (e.g. 1000000) to measure the cost profile")
	}
	root := repoRoot(t)
	data := generatedData(t, n)
	name := "winback"
	_, p := exampleCampaign(t, filepath.Join(root, "examples", "winback.yaml"), data)
	sh := startShape(t, functionsOf(p.JSON)...)
	sh.uploadTables(t, data)
	sh.s3Requests.reset()
	sh.dynamoRequests.reset()
	r := run{name: name, program: p, runID: state.NewRunID()}
	start := time.Now()
	o := sh.runAWS(t, []run{r})[0]
	wall := time.Since(start)
	if o.Error != "" {
		t.Fatalf("execution failed: %s: %s", o.Error, o.Cause)
	}
	var sum struct {
		Activities map[string]struct {
			Ports map[string]int64 `json:"ports"`
		} `json:"activities"`
	}
	json.Unmarshal(o.Output, &sum)
	prof := costProfile{Customers: n, Campaign: name, Counts: map[string]map[string]int64{}, Functions: map[string]*functionCost{},
		S3: sh.s3Requests.snapshot(), DynamoDB: sh.dynamoRequests.snapshot(), WallSeconds: wall.Seconds(), Dollars: map[string]float64{}}
	for id, a := range sum.Activities {
		prof.Counts[id] = a.Ports
	}
	for _, e := range o.Events {
		if e.Type == "StateEntered" {
			prof.Transitions++
		}
	}
	eph := templateEphemeral(t)
	for _, inv := range sh.fns.Router.Invocations() {
		fc := prof.Functions[inv.Function]
		if fc == nil {
			fc = &functionCost{MemoryMB: sh.memory[inv.Function], EphemeralMB: eph[inv.Function]}
			prof.Functions[inv.Function] = fc
		}
		fc.Invocations++
		// Lambda bills duration rounded up to the millisecond.
		billed := inv.Duration.Round(time.Millisecond)
		if billed < inv.Duration {
			billed += time.Millisecond
		}
		fc.Seconds += billed.Seconds()
		fc.CPUSeconds += inv.CPU.Seconds()
	}
	var gbs, ephGBs float64
	invocations := 0
	for _, fc := range prof.Functions {
		fc.GBSeconds = fc.Seconds * float64(fc.MemoryMB) / 1024
		gbs += fc.GBSeconds
		if fc.EphemeralMB > 512 {
			ephGBs += fc.Seconds * float64(fc.EphemeralMB-512) / 1024
		}
		invocations += fc.Invocations
	}
	s3put := prof.S3["PUT"] + prof.S3["LIST"]
	s3get := prof.S3["GET"]
	var wru, rru int
	for op, c := range prof.DynamoDB {
		switch op {
		case "PutItem", "UpdateItem", "DeleteItem":
			wru += c
		case "TransactWriteItems.items":
			wru += 2 * c
		case "GetItem", "Query":
			rru += c
		case "BatchGetItem.items":
			rru += c
		}
	}
	prof.Dollars = map[string]float64{
		"lambdaCompute":    gbs * lambdaGBSecond,
		"lambdaRequests":   float64(invocations) * lambdaRequest,
		"lambdaEphemeral":  ephGBs * ephemeralGBSecond,
		"stepFunctions":    float64(prof.Transitions) * sfnTransition,
		"s3Requests":       float64(s3put)*s3PutRequest + float64(s3get)*s3GetRequest,
		"dynamodbRequests": float64(wru)*dynamoWriteRequest + float64(rru)*dynamoReadRequest,
	}
	total := 0.0
	for _, v := range prof.Dollars {
		total += v
	}
	prof.Dollars["total"] = total

	t.Logf("%s, %d customers, %s AWS-style on this machine", name, n, wall.Round(time.Millisecond))
	var names []string
	for fn := range prof.Functions {
		names = append(names, fn)
	}
	sort.Strings(names)
	t.Logf("%-14s %5s %4s %9s %9s %9s", "function", "MB", "inv", "seconds", "cpu s", "GB-s")
	for _, fn := range names {
		fc := prof.Functions[fn]
		t.Logf("%-14s %5d %4d %9.3f %9.3f %9.3f", fn, fc.MemoryMB, fc.Invocations, fc.Seconds, fc.CPUSeconds, fc.GBSeconds)
	}
	t.Logf("state transitions %d; S3 %v; DynamoDB %v (WRU %d, RRU %d)", prof.Transitions, prof.S3, prof.DynamoDB, wru, rru)
	t.Logf("dollars per run: %v", prof.Dollars)
	if out := os.Getenv("STEPWISE_COST_OUT"); out != "" {
		b, _ := json.MarshalIndent(prof, "", "  ")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// templateEphemeral reads each function's EphemeralStorage from template.yaml.
func templateEphemeral(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for id, r := range loadTemplate(t).functions() {
		n, _ := strconv.Atoi(scalar(get(r.n, "Properties", "EphemeralStorage", "Size")))
		if n == 0 {
			n = 512
		}
		out[strings.TrimSuffix(id, "Function")] = n
	}
	return out
}

// generatedData generates the sample data set of n customers once per
// machine (kept under the temporary folder, keyed by n) and returns its folder.
func generatedData(t *testing.T, n int) string {
	t.Helper()
	data := filepath.Join(os.TempDir(), fmt.Sprintf("stepwise-shape-%d", n))
	if _, err := os.Stat(filepath.Join(data, "purchases.parquet")); err != nil {
		start := time.Now()
		if err := sampledata.Generate(context.Background(), data, sampledata.Options{Customers: n, Seed: 7}); err != nil {
			t.Fatal(err)
		}
		t.Logf("generated %d customers in %s (kept in %s)", n, time.Since(start).Round(time.Millisecond), data)
	}
	return data
}

// exampleCampaign compiles an example campaign twice: against the local data
// folder (for the local executor) and against the same tables in S3 (for the
// AWS shape).
func exampleCampaign(t *testing.T, file, data string) (local, remote *compile.Program) {
	t.Helper()
	root := repoRoot(t)
	cat, err := os.ReadFile(filepath.Join(root, "examples", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	camp, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var progs [2]*compile.Program
	for i, src := range []string{"source: " + data + "/", "source: s3://" + bucket + "/data/"} {
		dir := t.TempDir()
		copyTree(t, filepath.Join(root, "examples", "templates"), filepath.Join(dir, "templates"))
		for name, body := range map[string][]byte{"catalog.yaml": []byte(strings.ReplaceAll(string(cat), "source: data/", src)), "campaign.yaml": camp} {
			if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		progs[i] = compileFile(t, filepath.Join(dir, "campaign.yaml"), filepath.Join(dir, "catalog.yaml"))
	}
	if miss := missingHandlers(functionsOf(progs[1].JSON)); len(miss) > 0 {
		t.Fatalf("functions without handlers: %v", miss)
	}
	return progs[0], progs[1]
}

// uploadTables puts the data set's tables where the S3 catalog reads them.
func (sh *shape) uploadTables(t *testing.T, data string) {
	t.Helper()
	for _, tbl := range []string{"customers", "purchases", "stores"} {
		f, err := os.Open(filepath.Join(data, tbl+".parquet"))
		if err != nil {
			t.Fatal(err)
		}
		err = sh.blob.Put(context.Background(), "data/"+tbl+".parquet", f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

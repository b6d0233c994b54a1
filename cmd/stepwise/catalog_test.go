package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// catalog init on the sample data writes a catalog a campaign validates
// against, refuses to overwrite it without --force, and writes to stdout
// with --out -.
func TestCatalogInit(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	// The binary, not this process: the hostile corpus measures children's
	// peak RSS, which includes this process's (see TestHostileCorpus).
	if _, errOut, code := stepwise(t, "sample-data", "--customers", "200", "--seed", "3", "--today", "2026-03-01", "--out", data); code != 0 {
		t.Fatalf("sample-data: %s", errOut)
	}
	out := filepath.Join(dir, "conf", "catalog.yaml") // a folder that does not exist yet
	files := []string{filepath.Join(data, "customers.parquet"), filepath.Join(data, "purchases.parquet"), filepath.Join(data, "stores.parquet")}
	stdout, stderr, code := stepwise(t, append([]string{"catalog", "init", "--out", out}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "source: ../data/customers.parquet") {
		t.Errorf("sources not relative to the catalog:\n%s", b)
	}
	if !strings.Contains(stdout, "wrote "+out+": 3 tables") || !strings.Contains(stdout, "customers            key customerId") {
		t.Errorf("stdout:\n%s", stdout)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	// A trivial campaign over the guesses: the key, a link aggregate, the
	// email targeting and its consent.
	camp := filepath.Join(dir, "first.yaml")
	if err := os.WriteFile(camp, []byte(`version: 1
id: first
dimension: customers
activities:
  - id: buyers
    type: build-audience
    where:
      all:
        - { field: emailOptIn, op: eq, value: true }
        - { link: purchases, aggregate: count, op: gte, value: 1 }
        - { field: store.country, op: isNotEmpty }
  - id: hello
    type: email
    from: buyers
    message:
      from: "Shop <news@shop.example>"
      subject: "Hello {{ recipient.firstName }}"
      text: "Thanks for shopping with us. Unsubscribe: {{ message.unsubscribeUrl }}"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code := stepwise(t, "validate", "--catalog", out, camp); code != 0 || !strings.Contains(stdout, "valid (2 activities)") {
		t.Fatalf("validate: exit %d\n%s%s", code, stdout, stderr)
	}

	// Existing file: refused, untouched; --force overwrites.
	os.WriteFile(out, []byte("mine\n"), 0o644)
	_, stderr, code = stepwise(t, append([]string{"catalog", "init", "--out", out}, files...)...)
	if code != 1 || !strings.Contains(stderr, out+" exists; --force overwrites it") {
		t.Errorf("existing file: exit %d, stderr %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "mine\n" {
		t.Errorf("existing file overwritten without --force: %q", b)
	}
	if _, stderr, code = stepwise(t, append([]string{"catalog", "init", "--force", "--out", out}, files...)...); code != 0 {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, written) {
		t.Error("--force did not write the same catalog again")
	}

	// --out - prints it; sources are relative to the working folder.
	stdout, stderr, code = stepwise(t, "catalog", "init", "--out", "-", files[2])
	if code != 0 || !strings.Contains(stdout, "  - name: stores\n") || !strings.Contains(stdout, "key: [storeId]") {
		t.Errorf("--out -: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestCatalogInitUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"catalog"}, "expected: catalog init FILES..."},
		{[]string{"catalog", "list"}, "expected: catalog init FILES..."},
		{[]string{"catalog", "init"}, "expected one or more local files"},
		{[]string{"catalog", "init", "x.csv", "--sample", "0"}, "--sample must be at least 1"},
	} {
		if _, stderr, code := stepwise(t, c.args...); code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
	_, stderr, code := stepwise(t, "catalog", "init", "--out", filepath.Join(t.TempDir(), "c.yaml"), "missing.csv")
	if code != 1 || !strings.Contains(stderr, "missing.csv: stat missing.csv: no such file") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}

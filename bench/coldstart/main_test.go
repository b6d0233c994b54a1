package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTemplateMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "template.yaml")
	tmpl := "Globals:\n  Function:\n    MemorySize: 256\nResources:\n" +
		"  BigFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      MemorySize: 3008\n      Environment: { Variables: { A: !Ref B } }\n" +
		"  SmallFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: 30\n"
	if err := os.WriteFile(path, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	memory, err := templateMemory(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"Big": 3008, "Small": 256, "Absent": 256} {
		if got := memory(name); got != want {
			t.Errorf("%s: %d MB, want %d", name, got, want)
		}
	}
}

func TestTapFindsTheProxyLine(t *testing.T) {
	tap := &tap{}
	line := "initproxy: init=5 initcpu=4 handler=3 handlercpu=2 rss=1"
	go func() {
		tap.Write([]byte("START RequestId: x\ninitproxy: init=5 initcpu=4 "))
		tap.Write([]byte("handler=3 handlercpu=2 rss=1\nEND RequestId: x\n"))
	}()
	if got := tap.wait(10 * time.Second); got != line {
		t.Fatalf("tap saw %q", got)
	}
	if m := proxyLine.FindStringSubmatch(line); len(m) != 6 || m[1] != "5" || m[5] != "1" {
		t.Errorf("parsed %q", m)
	}
}

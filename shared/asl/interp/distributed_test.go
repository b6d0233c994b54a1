package interp

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
)

// memS3 is an S3 of one process.
type memS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
}

func (m *memS3) GetObject(_ context.Context, bucket, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[bucket+"/"+key]
	if !ok {
		return nil, errors.New("NoSuchKey")
	}
	return b, nil
}

func (m *memS3) PutObject(_ context.Context, bucket, key string, body []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[bucket+"/"+key] = body
	return nil
}

// distributedDef is a distributed Map over the JSON array at $.list, each
// item handed to a Task with the Map's input field "run".
const distributedDef = `{"StartAt":"M","States":{"M":{"Type":"Map",
 "ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSON"},"Parameters":{"Bucket.$":"$.list.bucket","Key.$":"$.list.key"}},
 "ItemSelector":{"item.$":"$$.Map.Item.Value","index.$":"$$.Map.Item.Index","run.$":"$.run"},
 "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:send","End":true}}},
 "MaxConcurrency":2,%WRITER%"ResultPath":"$.parts","End":true}}}`

func TestDistributedMapReadsItemsFromS3(t *testing.T) {
	s3 := &memS3{objects: map[string][]byte{"b/runs/r/slices.json": []byte(`[{"i":0},{"i":1},{"i":2}]`)}}
	var mu sync.Mutex
	var got []string
	inv := InvokerFunc(func(_ context.Context, _ string, in json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		got = append(got, string(in))
		mu.Unlock()
		return json.RawMessage(`{"sent":1}`), nil
	})
	def := strings.Replace(distributedDef, "%WRITER%", "", 1)
	out, err := runDef(t, def, `{"run":"r1","list":{"bucket":"b","key":"runs/r/slices.json"}}`, Options{Invoker: inv, S3: s3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !strings.Contains(strings.Join(got, " "), `{"item":{"i":2},"index":2,"run":"r1"}`) {
		t.Errorf("items handed to the processor: %v", got)
	}
	if !strings.Contains(out, `"parts":[{"sent":1},{"sent":1},{"sent":1}]`) {
		t.Errorf("output %s", out)
	}
}

func TestDistributedMapResultWriter(t *testing.T) {
	s3 := &memS3{objects: map[string][]byte{"b/l.json": []byte(`[1,2]`)}}
	def := strings.Replace(distributedDef, "%WRITER%", `"ResultWriter":{"Resource":"arn:aws:states:::s3:putObject","Parameters":{"Bucket":"b","Prefix.$":"$.out"}},`, 1)
	out, err := runDef(t, def, `{"run":"r","out":"runs/r/sent","list":{"bucket":"b","key":"l.json"}}`, Options{S3: s3})
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Parts struct {
			MapRunArn           string
			ResultWriterDetails struct{ Bucket, Key string }
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	d := res.Parts.ResultWriterDetails
	if d.Bucket != "b" || !strings.HasPrefix(d.Key, "runs/r/sent/") || !strings.HasSuffix(d.Key, "/manifest.json") || !strings.Contains(res.Parts.MapRunArn, ":mapRun:") {
		t.Fatalf("result %s", out)
	}
	manifest, _ := s3.GetObject(context.Background(), "b", d.Key)
	var m struct {
		ResultFiles struct{ SUCCEEDED []struct{ Key string } }
	}
	if err := json.Unmarshal(manifest, &m); err != nil || len(m.ResultFiles.SUCCEEDED) != 1 {
		t.Fatalf("manifest %s (%v)", manifest, err)
	}
	results, _ := s3.GetObject(context.Background(), "b", m.ResultFiles.SUCCEEDED[0].Key)
	var rs []struct{ Input, Output, Status string }
	if err := json.Unmarshal(results, &rs); err != nil || len(rs) != 2 || rs[1].Input != "2" || rs[1].Status != "SUCCEEDED" ||
		!strings.Contains(rs[1].Output, `"item":2`) {
		t.Fatalf("results %s (%v)", results, err)
	}
}

func TestDistributedMapFailures(t *testing.T) {
	def := strings.Replace(distributedDef, "%WRITER%", "", 1)
	in := `{"run":"r","list":{"bucket":"b","key":"l.json"}}`
	// A missing list, no S3, a list that is no array: States.ItemReaderFailed.
	for name, s3 := range map[string]S3{"missing": &memS3{objects: map[string][]byte{}}, "not an array": &memS3{objects: map[string][]byte{"b/l.json": []byte(`{}`)}}} {
		if _, err := runDef(t, def, in, Options{S3: s3}); failureName(err) != ErrItemReaderFailed {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := runDef(t, def, in, Options{}); failureName(err) != ErrItemReaderFailed {
		t.Errorf("no S3: %v", err)
	}
	// A failed child fails the Map Run.
	fail := InvokerFunc(func(context.Context, string, json.RawMessage) (json.RawMessage, error) {
		return nil, &Failure{Name: "SendFailed", Cause: "boom"}
	})
	_, err := runDef(t, def, in, Options{Invoker: fail, S3: &memS3{objects: map[string][]byte{"b/l.json": []byte(`[1]`)}}})
	if failureName(err) != ErrExceedToleratedFailureThreshold || !strings.Contains(err.Error(), "SendFailed") {
		t.Errorf("child failure: %v", err)
	}
}

func TestDistributedMapDefinitionErrors(t *testing.T) {
	proc := func(cfg string) string {
		return `"ItemProcessor":{"ProcessorConfig":` + cfg + `,"StartAt":"I","States":{"I":{"Type":"Succeed"}}}`
	}
	dist := proc(`{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"}`)
	reader := `"ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"JSON"},"Parameters":{"Bucket":"b","Key":"k"}}`
	tests := []struct{ name, fields, msg string }{
		{"ok", reader + "," + dist, ""},
		{"reader inline", reader + "," + proc(`{"Mode":"INLINE"}`), "need ItemProcessor.ProcessorConfig.Mode DISTRIBUTED"},
		{"no execution type", proc(`{"Mode":"DISTRIBUTED"}`), "ExecutionType must be STANDARD or EXPRESS"},
		{"items path", `"ItemsPath":"$.x",` + reader + "," + dist, "mutually exclusive"},
		{"csv", strings.Replace(reader, `"JSON"`, `"CSV"`, 1) + "," + dist, "InputType \"CSV\" is not supported"},
		{"listing", strings.Replace(reader, "s3:getObject", "s3:listObjectsV2", 1) + "," + dist, "s3:getObject only"},
		{"no key", strings.Replace(reader, `,"Key":"k"`, "", 1) + "," + dist, "Parameters.Key is required"},
		{"writer", `"ResultWriter":{"Resource":"arn:aws:states:::s3:putObject","Parameters":{"Bucket":"b"}},` + reader + "," + dist, "Parameters.Prefix is required"},
		{"batcher", `"ItemBatcher":{},` + reader + "," + dist, "ItemBatcher"},
	}
	for _, tc := range tests {
		_, err := Compile([]byte(`{"StartAt":"M","States":{"M":{"Type":"Map",` + tc.fields + `,"End":true}}}`))
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.msg)
		}
	}
}

package console_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A transition's rows page through the API's preview, and its CSV holds every row.
func TestRowsPagesAndCSV(t *testing.T) {
	hs := server(t)
	c := client()
	csrf := login(t, c, hs.URL)
	resp, _ := do(t, c, "POST", hs.URL+"/campaigns/winback-q4/test-run", hs.URL, url.Values{"csrf": {csrf}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "?run=") {
		t.Fatalf("test run: %d %q", resp.StatusCode, loc)
	}
	run := loc[strings.Index(loc, "?run=")+5:]
	var view struct {
		Status      string
		Transitions []struct {
			From, Port string
			Count      *int64
		}
	}
	for deadline := time.Now().Add(40 * time.Second); view.Status != "succeeded"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("run not done: %+v", view)
		}
		_, body := do(t, c, "GET", hs.URL+"/ui/runs/"+run, "", nil)
		if err := json.Unmarshal([]byte(body), &view); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
	}
	var total int64
	for _, tr := range view.Transitions {
		if tr.From == "lapsed" && tr.Port == "out" {
			total = *tr.Count
		}
	}
	if total < 3 {
		t.Fatalf("lapsed.out has %d rows; the test needs a few", total)
	}
	var seen []string
	for off := int64(0); off < total; off += 2 {
		_, body := do(t, c, "GET", hs.URL+"/ui/runs/"+run+"/transitions/lapsed/out?limit=2&offset="+strconvI(off), "", nil)
		var p struct {
			Columns []struct{ Name string }
			Rows    [][]any
			Total   int64
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil || p.Total != total || len(p.Rows) == 0 || len(p.Rows) > 2 {
			t.Fatalf("page at %d: %v %s", off, err, body)
		}
		for _, r := range p.Rows {
			seen = append(seen, r[0].(string))
		}
	}
	resp, body := do(t, c, "GET", hs.URL+"/ui/runs/"+run+"/csv/lapsed/out", "", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || int64(len(recs)) != total+1 || recs[0][0] != "customerId" {
		t.Fatalf("csv: %v, %d records for %d rows, header %v", err, len(recs), total, recs[0])
	}
	for i, key := range seen {
		if recs[i+1][0] != key {
			t.Fatalf("csv row %d is %s, pages said %s", i, recs[i+1][0], key)
		}
	}
}

func strconvI(n int64) string { b, _ := json.Marshal(n); return string(b) }

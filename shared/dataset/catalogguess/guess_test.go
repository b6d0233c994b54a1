package catalogguess

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/sampledata"
)

func engine(t *testing.T) *dataset.Engine {
	t.Helper()
	e, err := dataset.New(dataset.Options{WorkDir: t.TempDir(), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// guess runs Guess for files in dir with the catalog at dir/catalog.yaml and
// parses the result without reading the sources.
func guess(t *testing.T, dir string, files ...string) (*Result, *campaign.Catalog) {
	t.Helper()
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(dir, f)
	}
	out := filepath.Join(dir, "catalog.yaml")
	res, err := Guess(context.Background(), paths, Options{Out: out, Engine: engine(t)})
	if err != nil {
		t.Fatal(err)
	}
	cat, diags := campaign.ParseCatalog(out, res.YAML)
	if diags.HasErrors() {
		t.Fatalf("%v\n%s", diags, res.YAML)
	}
	return res, cat
}

func table(t *testing.T, c *campaign.Catalog, name string) *campaign.Table {
	t.Helper()
	tb, ok := c.Table(name)
	if !ok {
		t.Fatalf("no table %q; have %v", name, c.TableNames())
	}
	return tb
}

func wantLink(t *testing.T, tb *campaign.Table, name, target, from, to, card string) {
	t.Helper()
	l, ok := tb.Link(name)
	if !ok {
		t.Fatalf("%s: no link %q; have %v", tb.Name, name, tb.LinkNames())
	}
	if l.Table != target || len(l.On) != 1 || l.On[from] != to || l.Cardinality != card {
		t.Errorf("%s.%s = %+v, want %s on %s=%s %s", tb.Name, name, l, target, from, to, card)
	}
}

func wantColumn(t *testing.T, tb *campaign.Table, name, typ string, scale int) {
	t.Helper()
	c, ok := tb.Column(name)
	if !ok || c.Type != typ || c.Scale != scale {
		t.Errorf("%s.%s = %+v (found %t), want %s scale %d", tb.Name, name, c, ok, typ, scale)
	}
}

func TestGuessSampleData(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	today := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := sampledata.Generate(context.Background(), data, sampledata.Options{Customers: 300, Seed: 7, Today: today, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	res, cat := guess(t, dir, "data/customers.parquet", "data/purchases.parquet", "data/stores.parquet")
	text := string(res.YAML)

	cust, purch, stores := table(t, cat, "customers"), table(t, cat, "purchases"), table(t, cat, "stores")
	for tb, key := range map[*campaign.Table]string{cust: "customerId", purch: "purchaseId", stores: "storeId"} {
		if len(tb.Key) != 1 || tb.Key[0] != key {
			t.Errorf("%s key = %v, want [%s]", tb.Name, tb.Key, key)
		}
	}
	if cust.Source != "data/customers.parquet" {
		t.Errorf("source = %q, want data/customers.parquet (relative to the catalog)", cust.Source)
	}
	wantColumn(t, purch, "amount", campaign.TypeDecimal, 2)
	wantColumn(t, purch, "quantity", campaign.TypeInteger, 0)
	wantColumn(t, cust, "birthDate", campaign.TypeDate, 0)
	wantColumn(t, cust, "signupAt", campaign.TypeTimestamp, 0)
	wantColumn(t, cust, "emailOptIn", campaign.TypeBoolean, 0)

	wantLink(t, purch, "customer", "customers", "customerId", "customerId", "one")
	wantLink(t, purch, "store", "stores", "storeId", "storeId", "one")
	wantLink(t, cust, "purchases", "purchases", "customerId", "customerId", "many")
	wantLink(t, cust, "store", "stores", "storeId", "storeId", "one")
	wantLink(t, stores, "purchases", "purchases", "storeId", "storeId", "many")

	tg := cust.Targeting
	if tg == nil || tg.Email != "email" || tg.SMS != "phone" || tg.Push != "pushToken" || tg.Timezone != "timezone" ||
		tg.Consent["email"] != "emailOptIn" || tg.Consent["sms"] != "smsOptIn" || tg.Consent["push"] != "pushOptIn" {
		t.Errorf("customers targeting = %+v", tg)
	}
	if purch.Targeting != nil || stores.Targeting != nil {
		t.Errorf("purchases or stores guessed as targeting: %+v %+v", purch.Targeting, stores.Targeting)
	}
	for _, want := range []string{
		"key: [customerId]  # guessed: key (by name; unique in the first 300 rows)",
		"email: email  # guessed: email address (by name)",
		"email: emailOptIn  # guessed: email consent (by name)",
		"# guessed: link (customerId matches the key of customers)",
		"# guessed: link (purchases.customerId refers to this key; many: not unique in the first",
		"# column types: read from the Parquet footer",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("catalog lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "guessed: column types") {
		t.Errorf("Parquet types marked as guessed:\n%s", text)
	}

	// The sources' own schemas agree with the declared columns.
	if _, diags := campaign.ParseCatalogSchemas(context.Background(), filepath.Join(dir, "catalog.yaml"), res.YAML, &dataset.SchemaProbe{}); len(diags) > 0 {
		t.Errorf("with the sources read: %v", diags)
	}
	// Deterministic.
	again, _ := guess(t, dir, "data/customers.parquet", "data/purchases.parquet", "data/stores.parquet")
	if string(again.YAML) != text {
		t.Error("two guesses over the same files differ")
	}
}

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGuessUntypedCSV(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "customers.csv", `id,name,e_mail,mobile,smsConsent,signup,zip,score
1,Ann,ann@example.com,+33600000001,true,2024-01-05,01234,1.5
2,Bob,bob@example.com,+33600000002,false,2024-02-06,75001,2
3,Cy,cy@example.com,,true,2024-03-07,75002,
`)
	write(t, dir, "orders.tsv", "order_no\tcustomer_id\ttotal\tday\n10\t1\t12.5\t05/01/2024\n11\t1\t3.25\t13/02/2024\n12\t2\t7\t01/03/2024\n")
	res, cat := guess(t, dir, "customers.csv", "orders.tsv")
	text := string(res.YAML)
	cust, orders := table(t, cat, "customers"), table(t, cat, "orders")
	if !res.Tables[0].Guessed || !res.Tables[1].Guessed {
		t.Error("CSV without types not marked as guessed")
	}
	if !strings.Contains(text, "# guessed: column types (the file names none; sniffed from the first 3 rows)") {
		t.Errorf("no comment saying the types were guessed:\n%s", text)
	}
	wantColumn(t, cust, "id", campaign.TypeInteger, 0)
	wantColumn(t, cust, "smsConsent", campaign.TypeBoolean, 0)
	wantColumn(t, cust, "signup", campaign.TypeDate, 0)
	wantColumn(t, cust, "zip", campaign.TypeString, 0) // a leading zero
	wantColumn(t, cust, "score", campaign.TypeNumber, 0)
	// Day-first dates do not convert as a run converts CSV text: string.
	wantColumn(t, orders, "day", campaign.TypeString, 0)
	if !strings.Contains(text, "name: day, type: string }  # guessed: string (looked like date, but 3 values do not convert)") {
		t.Errorf("no note on the day column:\n%s", text)
	}
	if cust.Key[0] != "id" || orders.Key[0] != "order_no" {
		t.Errorf("keys = %v %v, want id (by name) and order_no (first unique)", cust.Key, orders.Key)
	}
	if !strings.Contains(text, "key: [order_no]  # guessed: key (unique in the first 3 rows)") {
		t.Errorf("no key note:\n%s", text)
	}
	// customers' key is id: orders.customer_id refers to it.
	wantLink(t, orders, "customer", "customers", "customer_id", "id", "one")
	wantLink(t, cust, "orders", "orders", "id", "customer_id", "many")
	tg := cust.Targeting
	if tg == nil || tg.Email != "e_mail" || tg.SMS != "mobile" || tg.Consent["sms"] != "smsConsent" || len(tg.Consent) != 1 {
		t.Errorf("targeting = %+v", tg)
	}
	// Validated with the sources read: declared columns are required and
	// every declared type converts.
	if _, diags := campaign.ParseCatalogSchemas(context.Background(), filepath.Join(dir, "catalog.yaml"), res.YAML, &dataset.SchemaProbe{}); len(diags) > 0 {
		t.Errorf("with the sources read: %v", diags)
	}
}

func TestGuessTypedHeaderAndJSONLines(t *testing.T) {
	dir := t.TempDir()
	// A typed header: types are read, not guessed; no column is named
	// like a key, the first unique one is the key.
	write(t, dir, "members.csv", "tier:string,code:string,points:integer,active:boolean\ngold,M1,10,true\ngold,M2,20,false\n")
	write(t, dir, "events.jsonl", `{"eventId":"e1","code":"M1","at":"2024-01-05T10:00:00Z","props":{"a":1}}
{"eventId":"e2","code":"M1","at":"2024-01-06T10:00:00Z","props":{"a":2}}
`)
	res, cat := guess(t, dir, "members.csv", "events.jsonl")
	text := string(res.YAML)
	members, events := table(t, cat, "members"), table(t, cat, "events")
	if res.Tables[0].Guessed || !res.Tables[1].Guessed {
		t.Errorf("guessed = %t %t, want false (typed header) true (JSON lines)", res.Tables[0].Guessed, res.Tables[1].Guessed)
	}
	if !strings.Contains(text, "# column types: read from the typed header") {
		t.Errorf("typed header not named:\n%s", text)
	}
	if members.Key[0] != "code" {
		t.Errorf("members key = %v, want [code] (tier is not unique)", members.Key)
	}
	wantColumn(t, members, "points", campaign.TypeInteger, 0)
	wantColumn(t, events, "at", campaign.TypeTimestamp, 0)
	wantColumn(t, events, "props", campaign.TypeJSON, 0)
	if events.Key[0] != "eventId" {
		t.Errorf("events key = %v", events.Key)
	}
	wantLink(t, events, "member", "members", "code", "code", "one")
	wantLink(t, members, "events", "events", "code", "code", "many")
	if _, diags := campaign.ParseCatalogSchemas(context.Background(), filepath.Join(dir, "catalog.yaml"), res.YAML, &dataset.SchemaProbe{}); len(diags) > 0 {
		t.Errorf("with the sources read: %v", diags)
	}
}

func TestGuessKeyNotUnique(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "visits.csv", "page,count\n/a,1\n/a,1\n")
	res, cat := guess(t, dir, "visits.csv")
	if k := table(t, cat, "visits").Key; k[0] != "page" {
		t.Errorf("key = %v, want the first column", k)
	}
	if !strings.Contains(string(res.YAML), "no column is unique and non-null in the first 2 rows: correct it") {
		t.Errorf("no warning on the key:\n%s", res.YAML)
	}
}

func TestGuessErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.csv", "x\n1\n")
	write(t, dir, "a.tsv", "x\n1\n")
	write(t, dir, "b.txt", "x\n")
	e := engine(t)
	for _, c := range []struct {
		files []string
		want  string
	}{
		{[]string{"a.csv", "a.tsv"}, `would both be table "a"`},
		{[]string{"b.txt"}, `unknown file type ".txt"`},
		{[]string{"nope.csv"}, "no such file"},
		{[]string{"s3://bucket/x.parquet"}, "local files only"},
		{[]string{"."}, "is a folder"},
	} {
		var paths []string
		for _, f := range c.files {
			if !strings.Contains(f, "://") {
				f = filepath.Join(dir, f)
			}
			paths = append(paths, f)
		}
		_, err := Guess(context.Background(), paths, Options{Out: filepath.Join(dir, "catalog.yaml"), Engine: e})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.files, err, c.want)
		}
	}
}

func TestScalar(t *testing.T) {
	for in, want := range map[string]string{"customers": "customers", "data/x.parquet": "data/x.parquet",
		"yes": `"yes"`, "a b": `"a b"`, "2024": `"2024"`, "x:y": `"x:y"`, "": `""`} {
		if got := scalar(in); got != want {
			t.Errorf("scalar(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestGuessLinkTypesDiffer(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "customers.csv", "customer_id,name\nC1,a\nC2,b\n")
	write(t, dir, "orders.csv", "order_id,customer_id\n1,5\n2,6\n")
	write(t, dir, "empty.csv", "a,b\n")
	res, cat := guess(t, dir, "customers.csv", "orders.csv", "empty.csv")
	if l := table(t, cat, "orders").Links; len(l) != 0 {
		t.Errorf("orders links = %+v, want none (the key types differ)", l)
	}
	text := string(res.YAML)
	for _, want := range []string{
		"    # not linked: orders.customer_id is integer but the key customers.customer_id is string; convert one to link them\n  - name: empty",
		"key: [a]  # guessed: key, but no column is unique and non-null (the file has no rows to check): correct it",
		"(the file names none and has no rows: every column is a string)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("catalog lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "links:") {
		t.Errorf("a links entry without links:\n%s", text)
	}
}

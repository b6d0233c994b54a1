package sampledata

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
)

// Options configure GenerateSample.
type Options struct {
	// Customers is the number of customers; default 10000. Purchases are
	// about 4 per customer; stores are always 50.
	Customers int
	// Seed selects the data; the same options give the same bytes.
	Seed uint64
	// Today anchors relative dates (signups, purchases over the last two
	// years); default today at 00:00 UTC. Only its date counts.
	Today time.Time
	// Threads and MemoryLimit configure the DuckDB engine (0: defaults).
	Threads     int
	MemoryLimit int64
}

// GenerateSample writes the demo data set into outDir: customers.parquet,
// purchases.parquet, stores.parquet, and catalog.yaml describing them. All
// rows are computed by DuckDB from range() and hash(), so the output is
// deterministic and a million customers take seconds.
//
// Customers: ids C0000001..., names by country, emails at reserved example
// domains (about 3% missing, 1% shared by two customers), phones (8%
// missing), push tokens (40%), opt-ins (email 85%, sms 60%), tier
// bronze/silver/gold (60/30/10%), a home store whose country and IANA time
// zone they share, birth dates (2% missing, 0.5% on 29 February), signups over 6 years and the time of their
// last purchase. Purchases: 0 to 8 per customer over the last two years,
// with sku, category, quantity, amount and store (none for web and app).
func Generate(ctx context.Context, outDir string, o Options) error {
	if o.Customers <= 0 {
		o.Customers = 10000
	}
	today := o.Today
	if today.IsZero() {
		today = time.Now()
	}
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	e, err := dataset.New(dataset.Options{WorkDir: outDir, Threads: o.Threads, MemoryLimit: o.MemoryLimit})
	if err != nil {
		return err
	}
	defer e.Close()
	g := sampleSQL{n: int64(o.Customers), seed: o.Seed, today: today}
	// A table of customer numbers: unlike range(), a table scan runs on
	// every thread.
	stmts := append(g.macros(), fmt.Sprintf("CREATE OR REPLACE TABLE sw_ids AS SELECT range AS i FROM range(%d)", g.n))
	for _, stmt := range stmts {
		if err := e.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("sample data: %w", err)
		}
	}
	for _, t := range []struct{ name, query string }{
		{"stores", g.stores()},
		{"customers", g.customers()},
		{"purchases", g.purchases()},
	} {
		file := filepath.Join(outDir, t.name+".parquet")
		tmp := file + ".tmp"
		if err := e.Exec(ctx, "COPY ("+t.query+") TO "+dataset.QuoteLiteral(tmp)+" (FORMAT parquet, COMPRESSION zstd)"); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("sample data: %s: %w", t.name, err)
		}
		if err := os.Rename(tmp, file); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(outDir, "catalog.yaml"), []byte(sampleCatalog(o, today)), 0o644)
}

type sampleStore struct{ city, country, tz string }

// sampleStores are the 50 stores, grouped by country.
var sampleStores = []sampleStore{
	{"Paris", "FR", "Europe/Paris"}, {"Lyon", "FR", "Europe/Paris"}, {"Marseille", "FR", "Europe/Paris"},
	{"Toulouse", "FR", "Europe/Paris"}, {"Bordeaux", "FR", "Europe/Paris"}, {"Lille", "FR", "Europe/Paris"},
	{"Nantes", "FR", "Europe/Paris"}, {"Nice", "FR", "Europe/Paris"}, {"Strasbourg", "FR", "Europe/Paris"},
	{"Rennes", "FR", "Europe/Paris"},
	{"New York", "US", "America/New_York"}, {"Los Angeles", "US", "America/Los_Angeles"}, {"Chicago", "US", "America/Chicago"},
	{"Houston", "US", "America/Chicago"}, {"Phoenix", "US", "America/Phoenix"}, {"Philadelphia", "US", "America/New_York"},
	{"San Antonio", "US", "America/Chicago"}, {"San Diego", "US", "America/Los_Angeles"}, {"Dallas", "US", "America/Chicago"},
	{"Seattle", "US", "America/Los_Angeles"}, {"Boston", "US", "America/New_York"}, {"Miami", "US", "America/New_York"},
	{"Berlin", "DE", "Europe/Berlin"}, {"Hamburg", "DE", "Europe/Berlin"}, {"Munich", "DE", "Europe/Berlin"},
	{"Cologne", "DE", "Europe/Berlin"}, {"Frankfurt", "DE", "Europe/Berlin"}, {"Stuttgart", "DE", "Europe/Berlin"},
	{"London", "GB", "Europe/London"}, {"Manchester", "GB", "Europe/London"}, {"Birmingham", "GB", "Europe/London"},
	{"Leeds", "GB", "Europe/London"}, {"Glasgow", "GB", "Europe/London"}, {"Bristol", "GB", "Europe/London"},
	{"Madrid", "ES", "Europe/Madrid"}, {"Barcelona", "ES", "Europe/Madrid"}, {"Valencia", "ES", "Europe/Madrid"},
	{"Seville", "ES", "Europe/Madrid"},
	{"Rome", "IT", "Europe/Rome"}, {"Milan", "IT", "Europe/Rome"}, {"Naples", "IT", "Europe/Rome"}, {"Turin", "IT", "Europe/Rome"},
	{"Tokyo", "JP", "Asia/Tokyo"}, {"Osaka", "JP", "Asia/Tokyo"}, {"Yokohama", "JP", "Asia/Tokyo"}, {"Nagoya", "JP", "Asia/Tokyo"},
	{"Toronto", "CA", "America/Toronto"}, {"Vancouver", "CA", "America/Vancouver"},
	{"Sydney", "AU", "Australia/Sydney"}, {"Melbourne", "AU", "Australia/Melbourne"},
}

type sampleCountry struct {
	code   string
	weight float64 // share of customers
	phone  string  // E.164 prefix of mobile numbers
	digits int     // digits after the prefix
	first  []string
	last   []string
}

var sampleCountries = []sampleCountry{
	{"FR", 0.25, "+336", 8,
		[]string{"Camille", "Léa", "Manon", "Chloé", "Inès", "Zoé", "Louise", "Jade", "Emma", "Sarah", "Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Théo", "Nathan", "Raphaël", "Mathis"},
		[]string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "Fontaine", "Rousseau", "Blanc"}},
	{"US", 0.25, "+1", 10,
		[]string{"Olivia", "Emma", "Ava", "Sophia", "Isabella", "Mia", "Amelia", "Harper", "Evelyn", "Abigail", "Liam", "Noah", "William", "James", "Benjamin", "Elijah", "Lucas", "Mason", "Logan", "Ethan"},
		[]string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia", "Rodriguez", "Wilson", "Martinez", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Lee", "O'Brien"}},
	{"DE", 0.12, "+4915", 9,
		[]string{"Mia", "Emilia", "Hannah", "Lena", "Lea", "Anna", "Marie", "Leonie", "Lina", "Sophie", "Ben", "Paul", "Jonas", "Finn", "Leon", "Elias", "Felix", "Lukas", "Maximilian", "Jürgen"},
		[]string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann"}},
	{"GB", 0.12, "+447", 9,
		[]string{"Olivia", "Amelia", "Isla", "Ava", "Ivy", "Freya", "Lily", "Florence", "Mia", "Willow", "Oliver", "George", "Arthur", "Noah", "Muhammad", "Leo", "Oscar", "Harry", "Archie", "Jack"},
		[]string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts"}},
	{"ES", 0.08, "+346", 8,
		[]string{"Lucía", "Sofía", "Martina", "María", "Julia", "Paula", "Valeria", "Alba", "Hugo", "Martín", "Lucas", "Mateo", "Leo", "Daniel", "Alejandro", "Pablo"},
		[]string{"García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz"}},
	{"IT", 0.06, "+393", 9,
		[]string{"Sofia", "Aurora", "Giulia", "Ginevra", "Alice", "Beatrice", "Emma", "Giorgia", "Leonardo", "Francesco", "Alessandro", "Lorenzo", "Mattia", "Tommaso", "Gabriele", "Riccardo"},
		[]string{"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo"}},
	{"JP", 0.06, "+8190", 8,
		[]string{"Yui", "Hina", "Aoi", "Sakura", "Yuna", "Mei", "Rin", "Riko", "Haruto", "Sota", "Yuto", "Minato", "Ren", "Hiroto", "Takumi", "Kaito"},
		[]string{"Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato", "Yoshida", "Yamada"}},
	{"CA", 0.03, "+1", 10,
		[]string{"Olivia", "Emma", "Charlotte", "Amelia", "Chloé", "Léa", "Noah", "Liam", "William", "Thomas", "Benjamin", "Félix"},
		[]string{"Smith", "Brown", "Tremblay", "Martin", "Roy", "Gagnon", "Lee", "Wilson", "Johnson", "MacDonald", "Côté", "Bouchard"}},
	{"AU", 0.03, "+614", 8,
		[]string{"Charlotte", "Olivia", "Amelia", "Isla", "Mia", "Ava", "Oliver", "Noah", "Jack", "Henry", "Leo", "William"},
		[]string{"Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Johnson", "White", "Martin", "Anderson", "Thompson", "Nguyen"}},
}

// sampleSQL builds the generator's statements. Every random choice is
// sw_u(n, salt): a uniform double in [0, 1) from DuckDB's hash of a row
// number, a salt naming the attribute, and the seed.
type sampleSQL struct {
	n     int64
	seed  uint64
	today time.Time
}

func sqlStrings(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = dataset.QuoteLiteral(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func sqlInts(xs []int) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// storeLookup maps 1000 equal slices of [0,1) to store indexes, so that
// countries get their weight, shared evenly by their stores.
func storeLookup() []int {
	perCountry := map[string]int{}
	for _, s := range sampleStores {
		perCountry[s.country]++
	}
	weight := map[string]float64{}
	for _, c := range sampleCountries {
		weight[c.code] = c.weight
	}
	out := make([]int, 0, 1000)
	acc := 0.0
	for i, s := range sampleStores {
		acc += weight[s.country] / float64(perCountry[s.country]) * 1000
		for float64(len(out)) < math.Round(acc) && len(out) < 1000 {
			out = append(out, i)
		}
	}
	for len(out) < 1000 {
		out = append(out, len(sampleStores)-1)
	}
	return out
}

func (g sampleSQL) macros() []string {
	var storeCountry []int
	for _, s := range sampleStores {
		for ci, c := range sampleCountries {
			if c.code == s.country {
				storeCountry = append(storeCountry, ci)
			}
		}
	}
	firsts, lasts := make([]string, len(sampleCountries)), make([]string, len(sampleCountries))
	prefixes, digits := make([]string, len(sampleCountries)), make([]int, len(sampleCountries))
	for i, c := range sampleCountries {
		firsts[i], lasts[i] = sqlStrings(c.first), sqlStrings(c.last)
		prefixes[i], digits[i] = c.phone, c.digits
	}
	today := g.today.Unix()
	return []string{
		fmt.Sprintf(`CREATE OR REPLACE MACRO sw_u(n, salt) AS (hash(n, salt, %d::UBIGINT) >> 11)::DOUBLE / 9007199254740992.0`, g.seed),
		`CREATE OR REPLACE MACRO sw_pick(lst, x) AS lst[1 + floor(x * len(lst))::BIGINT]`,
		`CREATE OR REPLACE MACRO sw_store(i) AS ` + sqlInts(storeLookup()) + `[1 + floor(sw_u(i, 'store') * 1000)::BIGINT]`,
		`CREATE OR REPLACE MACRO sw_country(s) AS ` + sqlInts(storeCountry) + `[1 + s]`,
		`CREATE OR REPLACE MACRO sw_first(i, c) AS sw_pick([` + strings.Join(firsts, ", ") + `][1 + c], sw_u(i, 'first'))`,
		`CREATE OR REPLACE MACRO sw_last(i, c) AS sw_pick([` + strings.Join(lasts, ", ") + `][1 + c], sw_u(i, 'last'))`,
		// Emails at reserved example domains (RFC 2606), unique by number.
		`CREATE OR REPLACE MACRO sw_email(i, c) AS
			regexp_replace(strip_accents(lower(sw_first(i, c))), '[^a-z]', '', 'g')
			|| sw_pick(['.', '_', ''], sw_u(i, 'sep'))
			|| regexp_replace(strip_accents(lower(sw_last(i, c))), '[^a-z]', '', 'g')
			|| (i + 1)::VARCHAR || '@'
			|| sw_pick(['example.com', 'example.net', 'example.org', 'mail.example', 'post.example'], sw_u(i, 'domain'))`,
		`CREATE OR REPLACE MACRO sw_phone(i, c) AS ` + sqlStrings(prefixes) + `[1 + c]
			|| lpad((hash(i, 'phone', ` + strconv.FormatUint(g.seed, 10) + `::UBIGINT) % 10000000000)::VARCHAR, 10, '0')[1:` + sqlInts(digits) + `[1 + c]]`,
		// Days since signup (30 to 2190), the window purchases fall in
		// (the last two years, after signup), and days since the last
		// purchase: 45% within 90 days, 30% within a year, the rest older.
		`CREATE OR REPLACE MACRO sw_signup_days(i) AS 30 + floor(sw_u(i, 'signup') * 2160)::BIGINT`,
		`CREATE OR REPLACE MACRO sw_window(i) AS least(sw_signup_days(i), 730) - 3`,
		`CREATE OR REPLACE MACRO sw_recency(i, win) AS least(win, CASE
			WHEN sw_u(i, 'lapse') < 0.45 THEN floor(sw_u(i, 'recency') * 90)
			WHEN sw_u(i, 'lapse') < 0.75 THEN 90 + floor(sw_u(i, 'recency') * 275)
			ELSE 365 + floor(sw_u(i, 'recency') * 365) END)::BIGINT`,
		`CREATE OR REPLACE MACRO sw_purchases(i) AS floor(sw_u(i, 'purchases') * 9)::BIGINT`,
		// Purchase j of customer i; purchase 0 is the latest, on day
		// recency+1 before today, the others on earlier days.
		// (rec and win are sw_recency and sw_window of i.)
		fmt.Sprintf(`CREATE OR REPLACE MACRO sw_purchase_at(i, j, rec, win) AS to_timestamp(%d
			- 86400 * (1 + rec + CASE WHEN j = 0 THEN 0 ELSE 1 + floor(sw_u(i * 8 + j, 'day') * (win - rec))::BIGINT END)
			+ floor(28800 + sw_u(i * 8 + j, 'time') * 50400)::BIGINT)`, today),
	}
}

func (g sampleSQL) idWidth(n int64) int { return max(7, len(strconv.FormatInt(n, 10))) }

func (g sampleSQL) stores() string {
	ids, rows := make([]string, len(sampleStores)), make([]string, len(sampleStores))
	seen := map[string]bool{}
	for i, s := range sampleStores {
		ids[i] = fmt.Sprintf("S%03d", i+1)
		format := "standard"
		if !seen[s.country] {
			format = "flagship"
		}
		seen[s.country] = true
		rows[i] = fmt.Sprintf("(%d, %s, %s, %s, %s, %s)", i, dataset.QuoteLiteral(ids[i]), dataset.QuoteLiteral(s.city), dataset.QuoteLiteral(s.country), dataset.QuoteLiteral(s.tz), dataset.QuoteLiteral(format))
	}
	return fmt.Sprintf(`SELECT storeId, 'Stepwise ' || city AS name, city, country, timezone,
		CASE WHEN format = 'standard' AND sw_u(k, 'outlet') < 0.2 THEN 'outlet' ELSE format END AS format,
		DATE '%s' - (365 + floor(sw_u(k, 'opened') * 5000))::INTEGER AS openedOn
		FROM (VALUES %s) AS s(k, storeId, city, country, timezone, format) ORDER BY k`,
		g.today.Format("2006-01-02"), strings.Join(rows, ", "))
}

func (g sampleSQL) storeArrays() (ids, tzs string) {
	a, b := make([]string, len(sampleStores)), make([]string, len(sampleStores))
	for i, s := range sampleStores {
		a[i], b[i] = fmt.Sprintf("S%03d", i+1), s.tz
	}
	return sqlStrings(a), sqlStrings(b)
}

// leapBirthYear is the latest leap year of a customer at least 19 years old;
// birthdays on 29 February are in it and the 11 leap years before.
func (g sampleSQL) leapBirthYear() int {
	y := g.today.Year() - 19
	for y%4 != 0 || (y%100 == 0 && y%400 != 0) {
		y--
	}
	return y
}

func (g sampleSQL) customers() string {
	ids, tzs := g.storeArrays()
	codes := make([]string, len(sampleCountries))
	for i, c := range sampleCountries {
		codes[i] = c.code
	}
	return fmt.Sprintf(`SELECT
		'C' || lpad((i + 1)::VARCHAR, %[1]d, '0') AS customerId,
		sw_first(i, c) AS firstName,
		sw_last(i, c) AS lastName,
		CASE WHEN sw_u(i, 'noemail') < 0.03 THEN NULL
			WHEN i > 0 AND sw_u(i, 'sharedemail') < 0.0103 THEN sw_email(i - 1, sw_country(sw_store(i - 1)))
			ELSE sw_email(i, c) END AS email,
		CASE WHEN sw_u(i, 'nophone') >= 0.08 THEN sw_phone(i, c) END AS phone,
		CASE WHEN sw_u(i, 'push') < 0.4 THEN sha256('push:' || i::VARCHAR || ':' || '%[2]d') END AS pushToken,
		%[3]s[1 + c] AS country,
		%[4]s[1 + s] AS timezone,
		%[5]s[1 + s] AS storeId,
		CASE WHEN sw_u(i, 'tier') < 0.6 THEN 'bronze' WHEN sw_u(i, 'tier') < 0.9 THEN 'silver' ELSE 'gold' END AS tier,
		sw_u(i, 'emailoptin') < 0.85 AS emailOptIn,
		sw_u(i, 'smsoptin') < 0.6 AS smsOptIn,
		pushToken IS NOT NULL AND sw_u(i, 'pushoptin') < 0.7 AS pushOptIn,
		CASE WHEN sw_u(i, 'nobirth') < 0.02 THEN NULL
			WHEN sw_u(i, 'leapbirth') < 0.005 THEN make_date(%[8]d - 4 * floor(sw_u(i, 'leapyear') * 12)::INTEGER, 2, 29)
			ELSE DATE '%[6]s' - (6575 + floor(sw_u(i, 'birth') * 24000))::INTEGER END AS birthDate,
		to_timestamp(%[7]d - 86400 * sw_signup_days(i) + floor(sw_u(i, 'signuptime') * 86400)::BIGINT) AS signupAt,
		CASE WHEN sw_purchases(i) > 0 THEN sw_purchase_at(i, 0, sw_recency(i, win), win) END AS lastPurchaseAt,
		floor(pow(sw_u(i, 'points'), 3) * 5000)::BIGINT AS loyaltyPoints
	FROM (SELECT i, s, sw_country(s) AS c, sw_window(i) AS win FROM (SELECT i, sw_store(i) AS s FROM sw_ids))`,
		g.idWidth(g.n), g.seed, sqlStrings(codes), tzs, ids, g.today.Format("2006-01-02"), g.today.Unix(), g.leapBirthYear())
}

func (g sampleSQL) purchases() string {
	ids, _ := g.storeArrays()
	return fmt.Sprintf(`SELECT
		'P' || lpad(x::VARCHAR, %[1]d, '0') AS purchaseId,
		'C' || lpad((i + 1)::VARCHAR, %[2]d, '0') AS customerId,
		channel,
		CASE WHEN channel <> 'store' THEN NULL
			WHEN sw_u(x, 'away') < 0.85 THEN %[3]s[1 + s]
			ELSE sw_pick(%[3]s, sw_u(x, 'otherstore')) END AS storeId,
		'SKU-' || lpad(k::VARCHAR, 4, '0') AS sku,
		['apparel', 'shoes', 'beauty', 'home', 'electronics', 'sports', 'books', 'grocery'][1 + k %% 8] AS category,
		quantity,
		CAST(round(least(greatest(exp(2.8 + 0.9 * sqrt(-2 * ln(1 - sw_u(k, 'p1'))) * cos(2 * pi() * sw_u(k, 'p2'))), 1), 900), 2) * quantity AS DECIMAL(18,2)) AS amount,
		sw_purchase_at(i, j, rec, win) AS purchasedAt
	FROM (
		SELECT i * 8 + j AS x, i, j, rec, win, s,
			CASE WHEN sw_u(i * 8 + j, 'channel') < 0.6 THEN 'store' WHEN sw_u(i * 8 + j, 'channel') < 0.9 THEN 'web' ELSE 'app' END AS channel,
			1 + floor(pow(sw_u(i * 8 + j, 'sku'), 2) * 500)::BIGINT AS k,
			1 + floor(pow(sw_u(i * 8 + j, 'quantity'), 3) * 5)::BIGINT AS quantity
		FROM (
			SELECT i, unnest(range(sw_purchases(i))) AS j, sw_recency(i, win) AS rec, win, s
			FROM (SELECT i, sw_window(i) AS win, sw_store(i) AS s FROM sw_ids)))`,
		g.idWidth(g.n*8), g.idWidth(g.n), ids)
}

func sampleCatalog(o Options, today time.Time) string {
	return fmt.Sprintf(`# Stepwise sample catalog, written by "stepwise sample-data"
# (customers: %d, seed: %d, reference date: %s). Relative dates in the data
# (signups, purchases over the last two years) count back from the reference date.
version: 1
warehouse: ./warehouse
tables:
  - name: customers
    key: [customerId]
    source: customers.parquet
    columns:
      - { name: customerId, type: string }
      - { name: firstName, type: string }
      - { name: lastName, type: string }
      - { name: email, type: string }
      - { name: phone, type: string, description: E.164 mobile number }
      - { name: pushToken, type: string }
      - { name: country, type: string, description: ISO 3166 alpha-2 code }
      - { name: timezone, type: string, description: IANA time zone }
      - { name: storeId, type: string, description: home store }
      - { name: tier, type: string, enum: [bronze, silver, gold] }
      - { name: emailOptIn, type: boolean }
      - { name: smsOptIn, type: boolean }
      - { name: pushOptIn, type: boolean }
      - { name: birthDate, type: date }
      - { name: signupAt, type: timestamp }
      - { name: lastPurchaseAt, type: timestamp }
      - { name: loyaltyPoints, type: integer }
    targeting:
      email: email
      sms: phone
      push: pushToken
      consent: { email: emailOptIn, sms: smsOptIn, push: pushOptIn }
      timezone: timezone
    links:
      - { name: purchases, table: purchases, on: { customerId: customerId }, cardinality: many }
      - { name: store, table: stores, on: { storeId: storeId }, cardinality: one }
  - name: purchases
    key: [purchaseId]
    source: purchases.parquet
    columns:
      - { name: purchaseId, type: string }
      - { name: customerId, type: string }
      - { name: channel, type: string, enum: [store, web, app] }
      - { name: storeId, type: string, description: empty for web and app purchases }
      - { name: sku, type: string }
      - { name: category, type: string, enum: [apparel, shoes, beauty, home, electronics, sports, books, grocery] }
      - { name: quantity, type: integer }
      - { name: amount, type: decimal, scale: 2 }
      - { name: purchasedAt, type: timestamp }
    links:
      - { name: customer, table: customers, on: { customerId: customerId }, cardinality: one }
      - { name: store, table: stores, on: { storeId: storeId }, cardinality: one }
  - name: stores
    key: [storeId]
    source: stores.parquet
    columns:
      - { name: storeId, type: string }
      - { name: name, type: string }
      - { name: city, type: string }
      - { name: country, type: string }
      - { name: timezone, type: string }
      - { name: format, type: string, enum: [flagship, standard, outlet] }
      - { name: openedOn, type: date }
    links:
      - { name: customers, table: customers, on: { storeId: storeId }, cardinality: many }
      - { name: purchases, table: purchases, on: { storeId: storeId }, cardinality: many }
`, o.Customers, o.Seed, today.Format("2006-01-02"))
}

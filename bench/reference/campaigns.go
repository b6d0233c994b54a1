package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/sampledata"
)

// benchCampaign is one campaign of the benchmark and its hand-written limit.
type benchCampaign struct {
	Name string // the harness's name for it (--campaigns)
	ID   string // the campaign's id
	File string // the campaign file in the size folder
	// Copy lists the files laid out in the size folder: destination (in
	// the folder) → source (in the repository).
	Copy [][2]string
	// Emails are the email activities whose `out` counts are the messages;
	// the limit's act column indexes them.
	Emails       []string
	Key, Address string
	Params       map[string]any // the run's parameters, as the templates see them
	// Prepare writes the campaign's own input files (once per size).
	Prepare func(dir string) error
	// SQL is the limit's one statement over the size's data folder and
	// folder at the run's reference instant.
	SQL func(data, dir string, now time.Time) (string, []any)
	// Transitions computes every port of the campaign (transitions.go).
	Transitions func(data, dir string, now time.Time) transitions
}

func campaignNamed(name string) (*benchCampaign, bool) {
	for i := range campaigns {
		if campaigns[i].Name == name {
			return &campaigns[i], true
		}
	}
	return nil, false
}

func pq(data, table string) string {
	return "read_parquet(" + dataset.QuoteLiteral(filepath.Join(data, table+".parquet")) + ")"
}

var campaigns = []benchCampaign{
	{
		// The reference campaign (examples/reference.yaml): link aggregate
		// with a relative date, enrichment (two filtered aggregates, a
		// one-link attribute), dedup by email, a three-way split with limits.
		Name: "reference", ID: "reference", File: "reference.yaml",
		Copy: [][2]string{{"reference.yaml", "examples/reference.yaml"}, {"catalog.yaml", "examples/catalog.yaml"},
			{"templates/reference.html", "examples/templates/reference.html"}},
		Emails: []string{"mailVip", "mailActive", "mailRest"}, Key: "customerId", Address: "email",
		Params: map[string]any{"discount": int64(15)}, Transitions: referenceTransitions,
		SQL: func(data, _ string, now time.Time) (string, []any) {
			return `
WITH p AS (
  SELECT customerId,
         sum(amount) AS total,
         count(*) FILTER (WHERE purchasedAt > $2) AS orders365,
         sum(amount) FILTER (WHERE purchasedAt > $2) AS spend365
  FROM ` + pq(data, "purchases") + ` GROUP BY customerId),
d AS (
  SELECT c.customerId, c.firstName, c.email, c.signupAt, c.emailOptIn, s.city, p.orders365, p.spend365
  FROM ` + pq(data, "customers") + ` c
  JOIN p ON p.customerId = c.customerId
  LEFT JOIN ` + pq(data, "stores") + ` s ON s.storeId = c.storeId
  WHERE c.lastPurchaseAt < $1 AND p.total >= 50
  QUALIFY row_number() OVER (PARTITION BY c.email ORDER BY p.spend365 DESC NULLS LAST, c.customerId) = 1),
vip AS (
  SELECT customerId FROM d WHERE spend365 >= 1000 ORDER BY spend365 DESC, customerId LIMIT 50000),
seg AS (
  SELECT d.*, CASE WHEN v.customerId IS NOT NULL THEN 0 WHEN d.orders365 >= 2 THEN 1 END AS act
  FROM d LEFT JOIN vip v ON v.customerId = d.customerId)
SELECT act, customerId, firstName, email, signupAt, city, orders365, CAST(spend365 AS VARCHAR) AS spend365
FROM (
  SELECT * FROM seg WHERE act IS NOT NULL
  UNION ALL
  SELECT * REPLACE (2 AS act) FROM seg WHERE act IS NULL
  QUALIFY row_number() OVER (ORDER BY customerId) <= count(*) OVER () // 2)
WHERE coalesce(trim(email), '') <> '' AND emailOptIn`, []any{now.AddDate(0, 0, -30), now.AddDate(0, 0, -365)}
		},
	},
	{
		// Sets and dimensions (bench/campaigns/segments.yaml): purchases
		// pivoted to customers twice, an intersection on purchases, a union,
		// an exclusion with its complement, a second exclusion, two emails.
		Name: "segments", ID: "segments", File: "segments.yaml",
		Copy: [][2]string{{"segments.yaml", "bench/campaigns/segments.yaml"}, {"catalog.yaml", "examples/catalog.yaml"},
			{"templates/segments-home.html", "bench/campaigns/templates/segments-home.html"},
			{"templates/segments-abroad.html", "bench/campaigns/templates/segments-abroad.html"}},
		Emails: []string{"mailHome", "mailAbroad"}, Key: "customerId", Address: "email", Transitions: segmentsTransitions,
		SQL: func(data, _ string, now time.Time) (string, []any) {
			return `
WITH big AS (
  SELECT DISTINCT customerId FROM ` + pq(data, "purchases") + ` WHERE amount >= 150 AND purchasedAt > $1),
recent AS (
  SELECT DISTINCT customerId FROM ` + pq(data, "purchases") + ` WHERE purchasedAt > $2),
target AS (
  SELECT c.customerId, c.firstName, c.email, c.emailOptIn, c.tier, c.country, c.lastPurchaseAt,
         c.country IN ('FR', 'DE', 'ES', 'IT') AS home
  FROM ` + pq(data, "customers") + ` c
  WHERE c.customerId IN (SELECT customerId FROM big)
     OR (c.tier IN ('gold', 'silver') AND c.customerId IN (SELECT customerId FROM recent)))
SELECT CASE WHEN coalesce(home, true) THEN 0 ELSE 1 END AS act, customerId, firstName, email, tier, country
FROM target
WHERE (NOT coalesce(home, true) OR NOT coalesce(lastPurchaseAt > $3, false))
  AND coalesce(trim(email), '') <> '' AND emailOptIn`, []any{now.AddDate(0, 0, -180), now.AddDate(0, 0, -90), now.AddDate(0, 0, -7)}
		},
	},
	{
		// A partner's leads (bench/campaigns/leads.yaml): load-file of a
		// generated CSV, reconciliation by email, update-data on customers
		// (computed, not committed, in test mode), one email to the updated.
		Name: "leads", ID: "leads", File: "leads.yaml",
		Copy: [][2]string{{"leads.yaml", "bench/campaigns/leads.yaml"}, {"catalog.yaml", "examples/catalog.yaml"},
			{"templates/leads.html", "bench/campaigns/templates/leads.html"}},
		Emails: []string{"welcome"}, Key: "customerId", Address: "email", Transitions: leadsTransitions,
		Prepare: writeLeads,
		SQL: func(data, dir string, _ time.Time) (string, []any) {
			return `
WITH f AS (
  SELECT lower(email) AS email, TRY_CAST(trim(points) AS BIGINT) AS points, trim(points) AS rawPoints, lower(tier) AS newTier
  FROM read_csv(` + dataset.QuoteLiteral(filepath.Join(dir, leadsFile)) + `, header = true, all_varchar = true, delim = ',', quote = '"')),
m AS (
  SELECT c.customerId, c.firstName, c.email, c.emailOptIn, c.tier, f.points, f.newTier
  FROM f JOIN ` + pq(data, "customers") + ` c ON c.email = f.email
  WHERE coalesce(trim(f.email), '') <> '' AND (coalesce(f.rawPoints, '') = '' OR f.points IS NOT NULL)
  QUALIFY count(*) OVER (PARTITION BY f.email) = 1)
SELECT 0 AS act, customerId, firstName, email, tier, points, newTier
FROM m WHERE coalesce(trim(email), '') <> '' AND emailOptIn`, nil
		},
	},
}

// leadsFile is the leads campaign's input, in the size folder.
const leadsFile = "files/leads.csv"

// writeLeads writes the leads file (sampledata.WriteLeads): it depends only
// on the size's customers.
func writeLeads(dir string) error {
	return sampledata.WriteLeads(context.Background(), filepath.Join(dir, "data"), filepath.Join(dir, leadsFile))
}

// emailMessage is what the limit reads of an email activity's message.
type emailMessage struct {
	Subject string `yaml:"subject"`
	HTML    struct {
		File string `yaml:"file"`
	} `yaml:"html"`
}

// emailMessages reads the messages of a campaign's email activities (YAML
// anchors and aliases resolved), so that the limit renders the product's
// templates.
func emailMessages(file string) (map[string]emailMessage, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var c struct {
		Activities []struct {
			ID      string    `yaml:"id"`
			Type    string    `yaml:"type"`
			Message yaml.Node `yaml:"message"` // an alert's is a string
		} `yaml:"activities"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	out := map[string]emailMessage{}
	for _, a := range c.Activities {
		if a.Type != "email" {
			continue
		}
		var m emailMessage
		if err := a.Message.Decode(&m); err != nil {
			return nil, fmt.Errorf("%s: %s: %v", file, a.ID, err)
		}
		if m.HTML.File == "" {
			return nil, fmt.Errorf("%s: %s: the limit renders html files only", file, a.ID)
		}
		out[a.ID] = m
	}
	return out, nil
}

package targeting_test

import "testing"

// A hand-countable data set. Edges: shared emails (a@x.com twice, c@x.com
// three times), null emails (C04, C05), an empty email (C06), a null store
// (C05, C10), null points (C07), a null signup (C09), a purchase with a null
// amount (P08), two purchases at the same instant (P05, P06), a purchase of
// an unknown customer (P09).
//
//	id   email    country tier   points store signupAt
//	C01  a@x.com  FR      gold   100    S1    2026-01-01
//	C02  a@x.com  FR      silver  50    S1    2026-01-02
//	C03  b@x.com  DE      bronze  50    S2    2026-01-03
//	C04  ∅        DE      gold    80    S2    2026-01-04
//	C05  ∅        FR      bronze  10    ∅     2026-01-05
//	C06  ""       US      silver  70    S3    2026-01-06
//	C07  c@x.com  US      gold    ∅     S3    2026-01-07
//	C08  c@x.com  US      bronze  70    S1    2026-01-08
//	C09  c@x.com  FR      silver  90    S2    ∅
//	C10  d@x.com  GB      gold    20    ∅     2026-01-10
const customersSQL = `SELECT * FROM (VALUES
	('C01', 'a@x.com', 'FR', 'gold',   100, 'S1', TIMESTAMPTZ '2026-01-01 00:00:00+00'),
	('C02', 'a@x.com', 'FR', 'silver',  50, 'S1', TIMESTAMPTZ '2026-01-02 00:00:00+00'),
	('C03', 'b@x.com', 'DE', 'bronze',  50, 'S2', TIMESTAMPTZ '2026-01-03 00:00:00+00'),
	('C04', NULL,      'DE', 'gold',    80, 'S2', TIMESTAMPTZ '2026-01-04 00:00:00+00'),
	('C05', NULL,      'FR', 'bronze',  10, NULL, TIMESTAMPTZ '2026-01-05 00:00:00+00'),
	('C06', '',        'US', 'silver',  70, 'S3', TIMESTAMPTZ '2026-01-06 00:00:00+00'),
	('C07', 'c@x.com', 'US', 'gold',  NULL, 'S3', TIMESTAMPTZ '2026-01-07 00:00:00+00'),
	('C08', 'c@x.com', 'US', 'bronze',  70, 'S1', TIMESTAMPTZ '2026-01-08 00:00:00+00'),
	('C09', 'c@x.com', 'FR', 'silver',  90, 'S2', NULL),
	('C10', 'd@x.com', 'GB', 'gold',    20, NULL, TIMESTAMPTZ '2026-01-10 00:00:00+00')
) AS t(customerId, email, country, tier, points, storeId, signupAt)`

// Purchases:
//
//	id   customer amount  purchasedAt       sku   store
//	P01  C01      10.50   2026-03-01 10:00  SKU1  S1
//	P02  C01      20.00   2026-03-05 10:00  SKU2  S1
//	P03  C01       5.25   2025-01-01 10:00  SKU3  ∅
//	P04  C02     100.00   2026-02-01 10:00  SKU1  S2
//	P05  C03       7.00   2026-03-10 10:00  SKU2  S2
//	P06  C03       7.00   2026-03-10 10:00  SKU4  S2
//	P07  C07     300.00   2026-01-15 10:00  SKU5  S3
//	P08  C09        ∅     2026-03-02 10:00  SKU1  S2
//	P09  C99      50.00   2026-03-03 10:00  SKU1  S1
const purchasesSQL = `SELECT purchaseId, customerId, CAST(amount AS DECIMAL(18,2)) AS amount, purchasedAt, sku, storeId FROM (VALUES
	('P01', 'C01', 10.50,  TIMESTAMPTZ '2026-03-01 10:00:00+00', 'SKU1', 'S1'),
	('P02', 'C01', 20.00,  TIMESTAMPTZ '2026-03-05 10:00:00+00', 'SKU2', 'S1'),
	('P03', 'C01', 5.25,   TIMESTAMPTZ '2025-01-01 10:00:00+00', 'SKU3', NULL),
	('P04', 'C02', 100.00, TIMESTAMPTZ '2026-02-01 10:00:00+00', 'SKU1', 'S2'),
	('P05', 'C03', 7.00,   TIMESTAMPTZ '2026-03-10 10:00:00+00', 'SKU2', 'S2'),
	('P06', 'C03', 7.00,   TIMESTAMPTZ '2026-03-10 10:00:00+00', 'SKU4', 'S2'),
	('P07', 'C07', 300.00, TIMESTAMPTZ '2026-01-15 10:00:00+00', 'SKU5', 'S3'),
	('P08', 'C09', NULL,   TIMESTAMPTZ '2026-03-02 10:00:00+00', 'SKU1', 'S2'),
	('P09', 'C99', 50.00,  TIMESTAMPTZ '2026-03-03 10:00:00+00', 'SKU1', 'S1')
) AS t(purchaseId, customerId, amount, purchasedAt, sku, storeId)`

const storesSQL = `SELECT * FROM (VALUES ('S1', 'Paris'), ('S2', 'Berlin'), ('S3', 'New York'), ('S4', 'Lyon')) AS t(storeId, city)`

const fixtureCatalog = `version: 1
tables:
  - name: customers
    key: [customerId]
    source: data/customers.parquet
    columns:
      - { name: customerId, type: string }
      - { name: email, type: string }
      - { name: country, type: string }
      - { name: tier, type: string }
      - { name: points, type: integer }
      - { name: storeId, type: string }
      - { name: signupAt, type: timestamp }
    targeting: { email: email }
    links:
      - { name: purchases, table: purchases, on: { customerId: customerId }, cardinality: many }
      - { name: store, table: stores, on: { storeId: storeId }, cardinality: one }
  - name: purchases
    key: [purchaseId]
    source: data/purchases.parquet
    columns:
      - { name: purchaseId, type: string }
      - { name: customerId, type: string }
      - { name: amount, type: decimal, scale: 2 }
      - { name: purchasedAt, type: timestamp }
      - { name: sku, type: string }
      - { name: storeId, type: string }
    links:
      - { name: customer, table: customers, on: { customerId: customerId }, cardinality: one }
      - { name: store, table: stores, on: { storeId: storeId }, cardinality: one }
  - name: stores
    key: [storeId]
    source: data/stores.parquet
    columns:
      - { name: storeId, type: string }
      - { name: city, type: string }
`

// fixtureEnv is an env holding the hand-countable data set.
func fixtureEnv(t *testing.T) *env {
	e := newEnv(t)
	e.parquet("data/customers.parquet", customersSQL)
	e.parquet("data/purchases.parquet", purchasesSQL)
	e.parquet("data/stores.parquet", storesSQL)
	e.catalog(fixtureCatalog)
	return e
}

// campaignHead starts a fixture campaign.
const campaignHead = `version: 1
id: t
name: test
dimension: customers
activities:
`

// allCustomers is an activity id for every customer.
const allCustomers = `  - { id: all, type: build-audience }
`

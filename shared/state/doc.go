// Package state is the run-state port of Stepwise: the records that campaigns, runs,
// managed tables, audiences and sends keep between steps, and the Store interface that
// the embedded adapter (local/boltstate) and the DynamoDB adapter (aws/dynamostate)
// implement. The contract both must honour is the test suite in state/statetest.
//
// Conventions shared by every method:
//
//   - Times are stored in UTC. A zero time where a method records a moment means "now".
//   - Errors wrap the sentinels ErrNotFound (nothing stored under that key), ErrExists
//     (creating what exists), ErrConflict (a conditional write found the record in another
//     state: reread and decide) and ErrInvalid (malformed argument, forbidden transition).
//     Test them with errors.Is.
//   - Every conditional write is atomic across goroutines and, for DynamoDB, across
//     processes: of N writers racing from the same expected state exactly one wins.
//   - Lists that grow without bound take a Page and return the cursor of the next page,
//     "" when there is none. Other lists return everything.
//   - Records are plain structs that round-trip through encoding/json; numbers inside
//     Run.Params come back as float64.
//   - The rules live in this package, in the functions that check or apply a change to
//     a record (NewRun, MoveCampaign, ApplyTaskUpdate, ReclaimEntry, CapLog.Reserve…);
//     adapters only make them atomic, so both behave alike.
//   - Lists read through a secondary index (campaigns, runs, tables, audiences,
//     suppressions) are eventually consistent on DynamoDB: a record written a few
//     milliseconds ago may be missing. Gets are always strongly consistent.
package state

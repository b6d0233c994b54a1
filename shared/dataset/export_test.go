package dataset

// SetStreamWindow changes the rows Stream reads per query, for tests.
func SetStreamWindow(n int64) (restore func()) {
	old := streamWindow
	streamWindow = n
	return func() { streamWindow = old }
}

// SetGoRows chooses the WriteRows path, for tests.
func SetGoRows(on bool) (restore func()) {
	old := goRows
	goRows = on
	return func() { goRows = old }
}

// SetGoStream chooses Stream's reader of plain Parquet columns, for tests.
func SetGoStream(on bool) (restore func()) {
	old := goStreamOn
	goStreamOn = on
	return func() { goStreamOn = old }
}

// GoStreams counts the streams read in Go so far.
func GoStreams() int64 { return goStreams.Load() }

// UniqueScans counts the reads of rows KeyIsUnique made so far: counts of
// distinct keys and reads of keys in order.
func UniqueScans() int64 { return uniqueScans.Load() + orderedKeys.Load() }

// OrderedKeys counts KeyIsUnique's answers read from keys in order.
func OrderedKeys() int64 { return orderedKeys.Load() }

// RecordedKeys counts KeyIsUnique's answers read from the record beside a
// manifest.
func RecordedKeys() int64 { return recordedKeys.Load() }

// UniqueKeyName is the record's file name.
const UniqueKeyName = uniqueKeyName

package dataset

// SetStreamWindow changes the rows Stream reads per query, for tests.
func SetStreamWindow(n int64) (restore func()) {
	old := streamWindow
	streamWindow = n
	return func() { streamWindow = old }
}

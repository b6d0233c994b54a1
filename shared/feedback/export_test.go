package feedback

// SetCompaction sets the compaction policy until the returned func restores it.
func SetCompaction(fanout int, minBytes, maxBytes int64) (restore func()) {
	old := compaction
	compaction = policy{fanout: fanout, minBytes: minBytes, maxBytes: maxBytes}
	return func() { compaction = old }
}

package lambdalocal

// PruneStaleForTest exposes pruneStale.
var PruneStaleForTest = pruneStale

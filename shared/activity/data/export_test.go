package data

// StrptimeLayout exposes strptimeLayout to the external tests.
var StrptimeLayout = strptimeLayout

// VersionRef exposes versionRef and applyTag: the ref an update of
// (run, activity) writes for a version.
func VersionRef(table string, version int64, runID, activityID string) string {
	return string(versionRef(table, version, applyTag(runID, activityID)))
}

// UpdatePassThrough switches update-data's reads of narrow inputs' own files.
var UpdatePassThrough = &updatePassThrough

package targeting

// SplitByKey switches split's keyed path (see runSplit).
var SplitByKey = &splitByKey

// OwnReads switches reads of a narrow input's own files (see task.own).
var OwnReads = &ownReads

// OwnViews counts the own-file views staged so far.
func OwnViews() int64 { return ownViews.Load() }

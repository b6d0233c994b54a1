package targeting

// SplitByKey switches split's keyed path (see runSplit).
var SplitByKey = &splitByKey

// OwnReads switches reads of a narrow input's own files (see task.own).
var OwnReads = &ownReads

// OwnViews counts the own-file views staged so far.
func OwnViews() int64 { return ownViews.Load() }

// CombineThrough switches combine's reads of narrow inputs' own files.
var CombineThrough = &combineThroughOn

// CombineThroughViews counts the pass-through views combine staged so far.
func CombineThroughViews() int64 { return combineThroughViews.Load() }

// KeyOnlyOrder switches the key-only row order of populations whose other
// columns are their base's.
var KeyOnlyOrder = &keyOnlyOrder

// ReconcileNarrow switches reconciliation's narrow out port.
var ReconcileNarrow = &reconcileNarrow

// SemiJoinKeepAll switches change-dimension's semi-join for inputs whose
// unique key the link holds.
var SemiJoinKeepAll = &semiJoinKeepAll

// SemiJoins counts change-dimension's semi-joins so far.
func SemiJoins() int64 { return semiJoins.Load() }

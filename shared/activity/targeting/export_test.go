package targeting

// SplitByKey switches split's keyed path (see runSplit).
var SplitByKey = &splitByKey

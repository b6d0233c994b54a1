package outbox

// SetOpen replaces how o opens its files (a full disk in tests).
func SetOpen(o *Outbox, open func(path string) (File, error)) { o.open = open }

// OpenFile is the outbox's own opener, for tests to wrap.
var OpenFile = openFile

package data

// StrptimeLayout exposes strptimeLayout to the external tests.
var StrptimeLayout = strptimeLayout

package data_test

import (
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/data"
)

// Each Go layout, converted for DuckDB, parses what Go formats with it back
// to the same instant (Go's own formatter is the oracle).
func TestStrptimeLayouts(t *testing.T) {
	h := newHome(t)
	paris, _ := time.LoadLocation("Europe/Paris")
	instants := []time.Time{
		time.Date(2026, 1, 5, 7, 4, 9, 123456789, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 58, 0, time.FixedZone("", -7*3600)),
		time.Date(2024, 2, 29, 12, 0, 0, 0, time.FixedZone("", 5*3600+30*60)),
	}
	for _, c := range []struct {
		layout string
		// trunc is what the layout keeps of an instant.
		trunc time.Duration
		zone  bool
	}{
		{"2006-01-02", 24 * time.Hour, false},
		{"02/01/2006", 24 * time.Hour, false},
		{"1/2/06", 24 * time.Hour, false},
		{"20060102", 24 * time.Hour, false},
		{"Jan 2, 2006", 24 * time.Hour, false},
		{"2 January 2006", 24 * time.Hour, false},
		{"Monday 02.01.2006", 24 * time.Hour, false},
		{"2006-01-02 15:04", time.Minute, false},
		{"2006-01-02 3:04:05 PM", time.Second, false},
		{"2006-01-02T15:04:05.000", time.Millisecond, false},
		{"2006-01-02 15:04:05.000000", time.Microsecond, false},
		{"2006-01-02T15:04:05Z07:00", time.Second, true},
		{"2006-01-02 15:04:05 -0700", time.Second, true},
		{"2006-01-02T15:04:05.000000Z07:00", time.Microsecond, true},
	} {
		f, zone, zulu, err := data.StrptimeLayout(c.layout)
		if err != nil {
			t.Errorf("%s: %v", c.layout, err)
			continue
		}
		if zone != c.zone {
			t.Errorf("%s: zone %v", c.layout, zone)
		}
		for _, in := range instants {
			if !c.zone {
				in = in.In(paris) // wall time in the campaign zone
			}
			text := in.Format(c.layout)
			// The wall clock Go wrote, truncated to what the layout holds.
			want, err := time.ParseInLocation(c.layout, text, paris)
			if err != nil {
				t.Fatal(err)
			}
			s := text
			if zulu && len(s) > 0 && s[len(s)-1] == 'Z' {
				s = s[:len(s)-1] + "+00:00"
			}
			parse := "strptime(?, ?)"
			if !zone {
				parse = "timezone('Europe/Paris', strptime(?, ?))"
			}
			row, err := h.engine().QueryRow(t.Context(), "SELECT epoch_us("+parse+")", s, f)
			if err != nil {
				t.Errorf("%s: %q with %q: %v", c.layout, text, f, err)
				continue
			}
			if got := time.UnixMicro(row[0].(int64)); !got.Equal(want.Truncate(time.Microsecond)) {
				t.Errorf("%s: %q (DuckDB %q) parsed as %s, want %s", c.layout, text, f, got.UTC(), want.UTC())
			}
		}
	}
	for _, bad := range []string{"2006-01-02 MST", "_2 Jan", "15:04:05.999", "2006-01-02T15:04:05Z07:00:00"} {
		if _, _, _, err := data.StrptimeLayout(bad); err == nil {
			t.Errorf("%s: expected unsupported", bad)
		}
	}
}

package console_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// An activity's panel: its settings in words from its type's describer, or
// its keys as written for a type without one; 404 for an unknown activity.
func TestActivitySettings(t *testing.T) {
	hs := server(t)
	c := client()
	login(t, c, hs.URL)
	get := func(id string) (int, map[string]any) {
		resp, body := do(t, c, "GET", hs.URL+"/ui/campaigns/winback-q4/activities/"+id, "", nil)
		var v map[string]any
		json.Unmarshal([]byte(body), &v)
		return resp.StatusCode, v
	}
	code, v := get("onePerEmail")
	words, _ := json.Marshal(v["words"])
	if code != 200 || v["type"] != "deduplication" || string(words) != `["Keep one per email, the highest spend365.","The other rows go to duplicates."]` {
		t.Errorf("onePerEmail: %d %v", code, v)
	}
	code, v = get("sendVip")
	if code != 200 || !strings.Contains(toJSON(v["words"]), `"Email '{{ recipient.firstName | default: 'Hello' }}, {{ params.discount }}% off this {{ variables.season }}' to the input."`) {
		t.Errorf("sendVip: %d %v", code, v)
	}
	// enrichment has no describer: its keys, each value on a line a list item.
	code, v = get("enriched")
	if s := toJSON(v["settings"]); code != 200 || v["words"] != nil ||
		!strings.Contains(s, `{"key":"add","value":"name: city, field: store.city\nname: orders365, link: purchases, aggregate: count, where: (field: purchasedAt, op: gt, value: (ago: 365d))`) {
		t.Errorf("enriched: %d %s", code, s)
	}
	if code, _ := get("nothing"); code != 404 {
		t.Errorf("unknown activity: %d", code)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

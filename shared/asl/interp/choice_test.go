package interp

import (
	"testing"
)

func TestChoiceRules(t *testing.T) {
	const in = `{"s":"beta","n":10,"f":2.5,"b":true,"t":"2024-05-01T10:00:00Z","tz":"2024-05-01T12:00:00+02:00",
	  "nul":null,"other":"alpha","m":10,"badts":"2024-05-01","arr":[1],"list":[{"x":1}]}`
	tests := []struct {
		rule string
		want bool
		err  string // expected failure name
	}{
		{`"Variable":"$.s","StringEquals":"beta"`, true, ""},
		{`"Variable":"$.s","StringEquals":"Beta"`, false, ""},
		{`"Variable":"$.n","StringEquals":"10"`, false, ""},
		{`"Variable":"$.s","StringLessThan":"gamma"`, true, ""},
		{`"Variable":"$.s","StringLessThan":"beta"`, false, ""},
		{`"Variable":"$.s","StringGreaterThan":"beta"`, false, ""},
		{`"Variable":"$.s","StringGreaterThanEquals":"beta"`, true, ""},
		{`"Variable":"$.n","NumericLessThan":10`, false, ""},
		{`"Variable":"$.n","NumericLessThanEquals":10`, true, ""},
		{`"Variable":"$.n","NumericGreaterThanEquals":11`, false, ""},
		{`"Variable":"$.n","NumericLessThanPath":"$.m"`, false, ""},
		{`"Variable":"$.t","TimestampLessThan":"2024-05-01T10:00:00Z"`, false, ""},
		{`"Variable":"$.t","TimestampGreaterThanEquals":"2024-05-01T10:00:00Z"`, true, ""},
		{`"Variable":"$.t","TimestampLessThanEquals":"2024-05-01T09:59:59Z"`, false, ""},
		{`"Variable":"$.s","StringGreaterThan":"alpha"`, true, ""},
		{`"Variable":"$.s","StringLessThanEquals":"beta"`, true, ""},
		{`"Variable":"$.s","StringGreaterThanEquals":"beta1"`, false, ""},
		{`"Variable":"$.s","StringEqualsPath":"$.other"`, false, ""},
		{`"Variable":"$.s","StringGreaterThanPath":"$.other"`, true, ""},
		{`"Variable":"$.s","StringMatches":"b*a"`, true, ""},
		{`"Variable":"$.s","StringMatches":"*x*"`, false, ""},
		{`"Variable":"$.n","NumericEquals":10`, true, ""},
		{`"Variable":"$.n","NumericEquals":10.0`, true, ""},
		{`"Variable":"$.s","NumericEquals":10`, false, ""},
		{`"Variable":"$.f","NumericLessThan":3`, true, ""},
		{`"Variable":"$.f","NumericGreaterThan":2.5`, false, ""},
		{`"Variable":"$.f","NumericGreaterThanEquals":2.5`, true, ""},
		{`"Variable":"$.n","NumericLessThanEquals":9`, false, ""},
		{`"Variable":"$.n","NumericEqualsPath":"$.m"`, true, ""},
		{`"Variable":"$.f","NumericLessThanPath":"$.n"`, true, ""},
		{`"Variable":"$.n","NumericGreaterThanPath":"$.s"`, false, ""},
		{`"Variable":"$.b","BooleanEquals":true`, true, ""},
		{`"Variable":"$.s","BooleanEquals":true`, false, ""},
		{`"Variable":"$.b","BooleanEqualsPath":"$.b"`, true, ""},
		{`"Variable":"$.t","TimestampEquals":"2024-05-01T10:00:00.000Z"`, true, ""},
		{`"Variable":"$.tz","TimestampEqualsPath":"$.t"`, true, ""},
		{`"Variable":"$.t","TimestampLessThan":"2024-05-01T10:00:01Z"`, true, ""},
		{`"Variable":"$.t","TimestampGreaterThan":"2024-05-01T10:00:00Z"`, false, ""},
		{`"Variable":"$.t","TimestampLessThanEquals":"2024-05-01T10:00:00Z"`, true, ""},
		{`"Variable":"$.t","TimestampGreaterThanEquals":"2023-01-01T00:00:00Z"`, true, ""},
		{`"Variable":"$.badts","TimestampLessThan":"2030-01-01T00:00:00Z"`, false, ""},
		{`"Variable":"$.t","TimestampGreaterThanPath":"$.badts"`, false, ""},
		{`"Variable":"$.nul","IsNull":true`, true, ""},
		{`"Variable":"$.s","IsNull":true`, false, ""},
		{`"Variable":"$.s","IsNull":false`, true, ""},
		{`"Variable":"$.nope","IsPresent":true`, false, ""},
		{`"Variable":"$.nope","IsPresent":false`, true, ""},
		{`"Variable":"$.nul","IsPresent":true`, true, ""},
		{`"Variable":"$.f","IsNumeric":true`, true, ""},
		{`"Variable":"$.s","IsNumeric":false`, true, ""},
		{`"Variable":"$.s","IsString":true`, true, ""},
		{`"Variable":"$.b","IsBoolean":true`, true, ""},
		{`"Variable":"$.t","IsTimestamp":true`, true, ""},
		{`"Variable":"$.badts","IsTimestamp":true`, false, ""},
		{`"Variable":"$.list[0].x","NumericEquals":1`, true, ""},
		{`"Variable":"$$.State.Name","StringEquals":"C"`, true, ""},
		{`"And":[{"Variable":"$.b","BooleanEquals":true},{"Variable":"$.n","NumericGreaterThan":5}]`, true, ""},
		{`"And":[{"Variable":"$.b","BooleanEquals":true},{"Variable":"$.n","NumericGreaterThan":50}]`, false, ""},
		{`"Or":[{"Variable":"$.b","BooleanEquals":false},{"Variable":"$.n","NumericGreaterThan":5}]`, true, ""},
		{`"Not":{"Variable":"$.s","StringEquals":"beta"}`, false, ""},
		{`"And":[{"Variable":"$.nope","IsPresent":true},{"Variable":"$.nope","NumericEquals":1}]`, false, ""},
		{`"Variable":"$.nope","StringEquals":"x"`, false, ErrRuntime},
		{`"Variable":"$.nope","IsNull":true`, false, ErrRuntime},
		{`"Variable":"$.s","StringEqualsPath":"$.nope"`, false, ErrRuntime},
	}
	for _, tt := range tests {
		def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{` + tt.rule + `,"Next":"Yes"}],"Default":"No"},
		  "Yes":{"Type":"Pass","Result":true,"End":true},"No":{"Type":"Pass","Result":false,"End":true}}}`
		out, err := runDef(t, def, in, Options{})
		if tt.err != "" {
			if failureName(err) != tt.err {
				t.Errorf("{%s}: err %v, want %s", tt.rule, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("{%s}: %v", tt.rule, err)
			continue
		}
		if got := out == "true"; got != tt.want {
			t.Errorf("{%s} = %v, want %v", tt.rule, got, tt.want)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"log-*.txt", "log-2024.txt", true},
		{"log-*.txt", "log-.txt", true},
		{"log-*.txt", "log-2024.csv", false},
		{"*", "", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{`a\*b`, "a*b", true},
		{`a\*b`, "aXb", false},
		{`a\\b`, `a\b`, true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"*ing", "testing", true},
		{"é*", "été", true},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestChoiceDefinitionErrors(t *testing.T) {
	for _, rule := range []string{
		`"Variable":"$.a"`,
		`"Variable":"$.a","StringEquals":1`,
		`"Variable":"$.a","NumericEquals":"1"`,
		`"Variable":"$.a","BooleanEquals":"true"`,
		`"Variable":"$.a","TimestampEquals":"yesterday"`,
		`"Variable":"$.a","StringEquals":"x","NumericEquals":1`,
		`"Variable":"$.a","IsNullPath":"$.b"`,
		`"Variable":"$.a","Unknown":1`,
		`"StringEquals":"x"`,
		`"And":[]`,
		`"And":[{"Variable":"$.a","StringEquals":"x","Next":"Yes"}]`,
	} {
		def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{` + rule + `,"Next":"Yes"}]},"Yes":{"Type":"Succeed"}}}`
		if _, err := Compile([]byte(def)); err == nil {
			t.Errorf("{%s}: want a definition error", rule)
		}
	}
}

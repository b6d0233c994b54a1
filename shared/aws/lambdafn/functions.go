package lambdafn

import (
	"sort"
	"strings"
	"unicode"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/plan"
)

// Fn is one Lambda of the deployment.
type Fn struct {
	Name string // the function name Task Resources use, e.g. BuildAudience
	Dir  string // its main is functions/<Dir>
	// Family is the activity family, or "run" (run-level functions),
	// "trigger", "feedback" or "api".
	Family string
}

// LogicalID is the function's resource id in template.yaml (and its SAM
// make target, build-<LogicalID>).
func (f Fn) LogicalID() string { return f.Name + "Function" }

// Families that are not activity families.
const (
	FamilyRun      = "run"
	FamilyTrigger  = "trigger"
	FamilyFeedback = "feedback"
	FamilyAPI      = "api"
)

// Functions lists every Lambda: each activity type that runs as a Task
// (Spec.Function set), the run-level functions, the trigger and the
// delivery-feedback function and the HTTP API, sorted by name.
func Functions(reg *activity.Registry) []Fn {
	var out []Fn
	seen := map[string]bool{}
	for _, t := range reg.Types() {
		s, _ := reg.Lookup(t)
		if s.Function == "" || seen[s.Function] {
			continue
		}
		seen[s.Function] = true
		out = append(out, Fn{Name: s.Function, Dir: s.Type, Family: s.Family})
	}
	for _, n := range plan.RunFunctions {
		out = append(out, Fn{Name: n, Dir: Kebab(n), Family: FamilyRun})
	}
	out = append(out, Fn{Name: "Trigger", Dir: "trigger", Family: FamilyTrigger},
		Fn{Name: "Feedback", Dir: "feedback", Family: FamilyFeedback},
		Fn{Name: "Api", Dir: "api", Family: FamilyAPI})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Kebab turns a function name into a folder name: StartRun → start-run,
// SMS → sms, LoadFile → load-file.
func Kebab(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

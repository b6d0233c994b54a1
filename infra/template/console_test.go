package template_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/console"
)

const anyMethod = "X-AMAZON-APIGATEWAY-ANY-METHOD"

// consoleRoute is the HTTP API route of a console path: P/ (but /) is
// P/{proxy+}.
func consoleRoute(p string) string {
	if p != "/" && strings.HasSuffix(p, "/") {
		return p + "{proxy+}"
	}
	return p
}

// consoleOperations are the console's public operations, as "METHOD /path".
func consoleOperations() map[string]bool {
	out := map[string]bool{}
	for _, p := range console.Paths {
		out[anyMethod+" "+consoleRoute(p)] = true
	}
	return out
}

// TestConsoleRoutes: each of the console's paths (console.Paths, the one
// list) is a public route of the HTTP API, any method, to the Api function,
// and every public route but unsubscribe is one of them. Whatever such a
// route matches is the console's (console.Serves), so that no public route
// reaches the API's handlers, which trust the gateway. The Api function is
// told the console's Cognito login from the parameters.
func TestConsoleRoutes(t *testing.T) {
	jwt := map[string]string{"AuthMode": "JWT", "JwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc", "JwtAudience": "client123",
		"ConsoleAuthDomain": "stepwise.auth.eu-west-1.amazoncognito.com"}
	for _, params := range []map[string]string{nil, jwt} {
		s := deployed(t, params)
		mode := s.params["AuthMode"]
		var body map[string]any
		for _, r := range s.resources {
			if r["Type"] == "AWS::ApiGatewayV2::Api" {
				body = obj(s.value(t, obj(r["Properties"])["Body"]))
			}
		}
		fn := s.getAtt(t, "ApiFunction", "Arn")
		var open []string
		for p, ops := range obj(body["paths"]) {
			for m, op := range obj(ops) {
				if sec, ok := obj(op)["security"]; !ok || len(list(sec)) > 0 || strings.HasPrefix(p, "/unsubscribe/") {
					continue
				}
				open = append(open, strings.ToUpper(m)+" "+p)
				integ := obj(obj(op)["x-amazon-apigateway-integration"])
				if uri := fmt.Sprint(integ["uri"]); !strings.Contains(uri, fmt.Sprint(fn)) || integ["payloadFormatVersion"] != "2.0" {
					t.Errorf("%s: %s %s goes to %s (payload %v), want the Api function", mode, m, p, uri, integ["payloadFormatVersion"])
				}
				sample := strings.ReplaceAll(p, "{proxy+}", "a/b")
				if !console.Serves(sample) {
					t.Errorf("%s: the public route %s matches %s, which the console does not serve: the API would answer it unauthorized", mode, p, sample)
				}
			}
		}
		sort.Strings(open)
		if want := keys(consoleOperations()); !reflect.DeepEqual(open, want) {
			t.Errorf("%s: template.yaml's public routes %v differ from console.Paths' %v: add a public route to the Api function for each console path (P/ is P/{proxy+})", mode, open, want)
		}

		env := map[string]string{}
		for k, v := range obj(obj(s.value(t, obj(s.resources["ApiFunction"]["Properties"])["Environment"]))["Variables"]) {
			env[k] = fmt.Sprint(v)
		}
		env["TABLE_NAME"], env["BUCKET"] = "t", "b" // from the Globals
		cfg, err := lambdafn.FromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("%s: Api environment: %v", mode, err)
		}
		if got := [3]string{cfg.ConsoleIssuer, cfg.ConsoleClientID, cfg.ConsoleDomain}; got != [3]string{params["JwtIssuer"], params["JwtAudience"], params["ConsoleAuthDomain"]} {
			t.Errorf("%s: the console logs in with %q, want the parameters' %v", mode, got, params)
		}
	}
}

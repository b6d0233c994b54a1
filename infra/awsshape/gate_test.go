package awsshape_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The gate checks what moto cannot: the resource of DynamoDB, SNS and
// SESv2 calls (moto checks those against "*", see moto), and each item of
// a DynamoDB transaction by its own action, as AWS does. It evaluates the
// function's real policies (Allow and Deny, Action and Resource patterns);
// it knows no condition keys, so a statement with a Condition never allows.

// access is one action on one resource that a request needs.
type access struct{ action, resource string }

// allowed says whether ps allow a: some Allow statement matches and no Deny
// statement does.
func allowed(ps []policy, a access) bool {
	ok := false
	for _, p := range ps {
		for _, s := range p.Statement {
			if !s.matches(a) {
				continue
			}
			if s.Effect == "Deny" {
				return false
			}
			if s.Effect == "Allow" && s.Condition == nil {
				ok = true
			}
		}
	}
	return ok
}

func (s statement) matches(a access) bool {
	act := anyGlob(s.Action, a.action, true)
	if len(s.NotAction) > 0 {
		act = !anyGlob(s.NotAction, a.action, true)
	}
	res := anyGlob(s.Resource, a.resource, false)
	if len(s.NotResource) > 0 {
		res = !anyGlob(s.NotResource, a.resource, false)
	}
	return act && res
}

func anyGlob(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if glob(p, s, fold) {
			return true
		}
	}
	return false
}

// glob matches an IAM pattern: * is any run of characters (slashes and
// colons included), ? one character; actions compare case-insensitively.
func glob(pattern, s string, fold bool) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	if fold {
		re = "(?i)" + re
	}
	c, ok := globs.Load(re)
	if !ok {
		c, _ = globs.LoadOrStore(re, regexp.MustCompile(re))
	}
	return c.(*regexp.Regexp).MatchString(s)
}

var globs sync.Map // compiled patterns

// needs lists the accesses a request to service needs (nil for services
// and operations the gate leaves to moto).
func needs(service string, r *http.Request, body []byte) []access {
	arn := func(svc, rest string) string { return "arn:aws:" + svc + ":" + region + ":" + account + ":" + rest }
	switch service {
	case "dynamodb":
		op := r.Header.Get("X-Amz-Target")
		op = op[strings.LastIndexByte(op, '.')+1:]
		table := func(name, index string) string {
			if index != "" {
				return arn("dynamodb", "table/"+name+"/index/"+index)
			}
			return arn("dynamodb", "table/"+name)
		}
		var in struct {
			TableName, IndexName string
			RequestItems         map[string]json.RawMessage
			TransactItems        []map[string]struct{ TableName string }
		}
		json.Unmarshal(body, &in)
		var out []access
		switch op {
		case "TransactWriteItems", "TransactGetItems":
			each := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
			for _, item := range in.TransactItems {
				for k, v := range item {
					out = append(out, access{"dynamodb:" + each[k], table(v.TableName, "")})
				}
			}
		case "BatchGetItem", "BatchWriteItem":
			for name := range in.RequestItems {
				out = append(out, access{"dynamodb:" + op, table(name, "")})
			}
		default:
			if in.TableName != "" {
				out = append(out, access{"dynamodb:" + op, table(in.TableName, in.IndexName)})
			}
		}
		return out
	case "sns":
		form, _ := url.ParseQuery(string(body))
		switch action := form.Get("Action"); action {
		case "Publish":
			target := form.Get("TargetArn") + form.Get("TopicArn")
			if target == "" {
				target = "*" // SMS to a phone number: sns:Publish has no resource then
			}
			return []access{{"sns:Publish", target}}
		case "CreatePlatformEndpoint":
			return []access{{"sns:CreatePlatformEndpoint", form.Get("PlatformApplicationArn")}}
		}
	case "ses":
		if !strings.HasSuffix(r.URL.Path, "/outbound-emails") {
			return nil
		}
		var in struct {
			FromEmailAddress, FromEmailAddressIdentityArn, ConfigurationSetName string
		}
		json.Unmarshal(body, &in)
		// SES authorizes the sending identity (the address's domain, when
		// the domain is what was verified, as here) and the configuration set.
		identity := in.FromEmailAddressIdentityArn
		if identity == "" {
			addr := in.FromEmailAddress
			if i := strings.LastIndexByte(addr, '<'); i >= 0 {
				addr = strings.TrimSuffix(addr[i+1:], ">")
			}
			identity = arn("ses", "identity/"+addr[strings.LastIndexByte(addr, '@')+1:])
		}
		out := []access{{"ses:SendEmail", identity}}
		if in.ConfigurationSetName != "" {
			out = append(out, access{"ses:SendEmail", arn("ses", "configuration-set/"+in.ConfigurationSetName)})
		}
		return out
	}
	return nil
}

// refuse answers a denied request as service does.
func refuse(w http.ResponseWriter, service, msg string) {
	switch service {
	case "dynamodb":
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazon.coral.service#AccessDeniedException", "message": msg})
	case "sns":
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>`)
		xml.EscapeText(w, []byte(msg))
		io.WriteString(w, `</Message></Error><RequestId>gate</RequestId></ErrorResponse>`)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]string{"message": msg})
	}
}

// TestGateEvaluates: patterns, Deny over Allow, conditions never allowing,
// NotResource; and a transaction needs each item's own action.
func TestGateEvaluates(t *testing.T) {
	ps := []policy{{Name: "p", Statement: []statement{
		{Effect: "Allow", Action: []string{"dynamodb:GetItem", "dynamodb:PutItem"}, Resource: []string{"arn:aws:dynamodb:us-east-1:1:table/t", "arn:aws:dynamodb:us-east-1:1:table/t/index/*"}},
		{Effect: "Allow", Action: []string{"S3:Get*"}, Resource: []string{"arn:aws:s3:::b/runs/*"}},
		{Effect: "Deny", Action: []string{"s3:GetObject"}, Resource: []string{"arn:aws:s3:::b/runs/secret"}},
		{Effect: "Allow", Action: []string{"sns:Publish"}, Resource: []string{"*"}, Condition: map[string]any{"Bool": map[string]any{"aws:SecureTransport": "true"}}},
		{Effect: "Allow", Action: []string{"ses:SendEmail"}, NotResource: []string{"arn:aws:ses:us-east-1:1:identity/evil.example"}},
	}}}
	for _, c := range []struct {
		a    access
		want bool
	}{
		{access{"dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:1:table/t"}, true},
		{access{"dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:1:table/t/index/gsi1"}, true},
		{access{"dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:1:table/t2"}, false},
		{access{"dynamodb:DeleteItem", "arn:aws:dynamodb:us-east-1:1:table/t"}, false},
		{access{"s3:getobject", "arn:aws:s3:::b/runs/x/y.parquet"}, true},
		{access{"s3:GetObject", "arn:aws:s3:::b/runs/secret"}, false},
		{access{"s3:GetObject", "arn:aws:s3:::b/campaigns/x"}, false},
		{access{"sns:Publish", "arn:aws:sns:us-east-1:1:endpoint/x"}, false},
		{access{"ses:SendEmail", "arn:aws:ses:us-east-1:1:identity/shop.example"}, true},
		{access{"ses:SendEmail", "arn:aws:ses:us-east-1:1:identity/evil.example"}, false},
	} {
		if got := allowed(ps, c.a); got != c.want {
			t.Errorf("%s on %s: allowed %v, want %v", c.a.action, c.a.resource, got, c.want)
		}
	}
	r, _ := http.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("X-Amz-Target", "DynamoDB_20120810.TransactWriteItems")
	got := needs("dynamodb", r, []byte(`{"TransactItems":[{"Put":{"TableName":"t"}},{"ConditionCheck":{"TableName":"u"}}]}`))
	want := []access{{"dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t"}, {"dynamodb:ConditionCheckItem", "arn:aws:dynamodb:us-east-1:123456789012:table/u"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transaction needs %v, want %v", got, want)
	}
	r, _ = http.NewRequest(http.MethodPost, "/v2/email/outbound-emails", nil)
	got = needs("ses", r, []byte(`{"FromEmailAddress":"Shop <news@shop.example>","ConfigurationSetName":"cs"}`))
	want = []access{{"ses:SendEmail", "arn:aws:ses:us-east-1:123456789012:identity/shop.example"}, {"ses:SendEmail", "arn:aws:ses:us-east-1:123456789012:configuration-set/cs"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SendEmail needs %v, want %v", got, want)
	}
	r, _ = http.NewRequest(http.MethodPost, "/", nil)
	got = needs("sns", r, []byte(`Action=CreatePlatformEndpoint&PlatformApplicationArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3Aapp%2FGCM%2Fa&Token=t`))
	want = []access{{"sns:CreatePlatformEndpoint", "arn:aws:sns:us-east-1:1:app/GCM/a"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("CreatePlatformEndpoint needs %v, want %v", got, want)
	}
}

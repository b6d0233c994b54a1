package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/invopop/jsonschema"
)

// OpenAPI returns the OpenAPI 3.1 document of the API, generated from the route table
// and the Go types of the bodies (deterministic: committed as docs/openapi.json).
func OpenAPI() ([]byte, error) {
	r := &jsonschema.Reflector{Anonymous: true, AllowAdditionalProperties: false}
	schemas := map[string]any{}
	ref := func(v any) (map[string]any, error) {
		if m, ok := v.(map[string]any); ok && len(m) == 0 {
			return map[string]any{"type": "object"}, nil
		}
		s := r.Reflect(v)
		data, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		data = bytes.ReplaceAll(data, []byte(`"#/$defs/`), []byte(`"#/components/schemas/`))
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		if defs, ok := m["$defs"].(map[string]any); ok {
			for k, d := range defs {
				schemas[k] = d
			}
		}
		delete(m, "$defs")
		delete(m, "$schema")
		return m, nil
	}
	errRef, err := ref(ErrorBody{})
	if err != nil {
		return nil, err
	}
	paths := map[string]any{}
	for _, rt := range (&Server{}).routes() {
		op := map[string]any{"operationId": rt.op, "summary": rt.summary, "tags": []string{rt.tag}}
		var params []any
		for _, name := range pathParams(rt.path) {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.desc, "schema": map[string]any{"type": q.typ}})
		}
		for _, h := range rt.headers {
			params = append(params, map[string]any{"name": h.name, "in": "header", "description": h.desc, "schema": map[string]any{"type": h.typ, "maxLength": 255}})
		}
		if params != nil {
			op["parameters"] = params
		}
		switch {
		case rt.in != nil:
			s, err := ref(rt.in)
			if err != nil {
				return nil, err
			}
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": s}}}
		case rt.upload:
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/octet-stream": map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}}
		}
		responses := map[string]any{}
		ok := map[string]any{"description": "success"}
		switch {
		case rt.html:
			ok["content"] = map[string]any{"text/html": map[string]any{"schema": map[string]any{"type": "string"}}}
		case rt.out != nil:
			s, err := ref(rt.out)
			if err != nil {
				return nil, err
			}
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": s}}
		}
		if d, has := rt.notes[rt.status]; has {
			ok["description"] = d
		}
		responses[strconv.Itoa(rt.status)] = ok
		if rt.accepted != "" {
			responses[strconv.Itoa(http.StatusAccepted)] = map[string]any{"description": rt.accepted, "content": ok["content"]}
		}
		for _, code := range rt.errs {
			content := map[string]any{"application/json": map[string]any{"schema": errRef}}
			if rt.html {
				content = map[string]any{"text/html": map[string]any{"schema": map[string]any{"type": "string"}}}
			}
			desc := errorText[code]
			if d, has := rt.notes[code]; has {
				desc = d
			}
			responses[strconv.Itoa(code)] = map[string]any{"description": desc, "content": content}
		}
		op["responses"] = responses
		if rt.public && rt.tag == tagPublic && strings.HasPrefix(rt.path, "/unsubscribe") {
			op["security"] = []any{}
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Stepwise API", "version": "1",
			"description": "Marketers' API of Stepwise: campaigns and their lifecycle, runs with counts on every transition, previews, logs, uploads and one-click unsubscribe. Errors are {\"error\":{\"code\",\"message\",\"path\"}}. See docs/api.md."},
		"servers":  []any{map[string]any{"url": "/"}},
		"security": []any{map[string]any{"bearer": []any{}}},
		"tags": []any{
			map[string]any{"name": tagCampaigns, "description": "campaigns and their lifecycle"},
			map[string]any{"name": tagRuns, "description": "runs, counts, previews, logs"},
			map[string]any{"name": tagData, "description": "audiences and uploads"},
			map[string]any{"name": tagPublic, "description": "the document and unsubscribe"},
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer",
				"description": "locally the STEPWISE_TOKEN of `stepwise serve`; on AWS the template's IAM or JWT authorizer"}},
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return buf.Bytes(), nil
}

var errorText = map[int]string{
	400: "bad request: malformed JSON, unknown field, wrong type, invalid parameter",
	401: "missing or invalid bearer token",
	404: "not found",
	409: "refused by the lifecycle, or changed meanwhile",
	413: "request body too large",
	415: "not application/json",
	422: "the campaign is invalid (diagnostics in details)",
	429: "triggered too soon; see Retry-After",
	501: "not available on this platform",
	502: "the platform (AWS) refused or failed",
	503: "the run could not be started",
}

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

func pathParams(p string) []string {
	var out []string
	for _, m := range pathParam.FindAllStringSubmatch(p, -1) {
		out = append(out, m[1])
	}
	return out
}

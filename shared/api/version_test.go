package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// A published version is read back with its document, as published: a draft
// edited afterwards (back to draft) does not change it.
func TestGetVersionHasItsDocument(t *testing.T) {
	e := newEnvWith(t, -1, nil)
	src := source(t)
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": src}), http.StatusCreated, "create")
	e.expect(e.do("GET", "/v1/campaigns/flow-only/versions/1", nil), http.StatusNotFound, "no version yet")
	e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), http.StatusOK, "publish")
	e.expect(e.do("POST", "/v1/campaigns/flow-only/back-to-draft", nil), http.StatusOK, "back to draft")
	edited := strings.Replace(src, "title: Hello", "title: Hi", 1)
	e.expect(e.do("PUT", "/v1/campaigns/flow-only", map[string]any{"source": edited}), http.StatusOK, "edit")

	v := e.expect(e.do("GET", "/v1/campaigns/flow-only/versions/1", nil), http.StatusOK, "version 1")
	if v.str("source") != src || v.body["number"] != float64(1) || !strings.HasPrefix(v.str("aslHash"), "sha256:") {
		t.Errorf("version 1: %s", v.raw)
	}
	list := e.expect(e.do("GET", "/v1/campaigns/flow-only/versions", nil), http.StatusOK, "versions")
	if strings.Contains(string(list.raw), "source") {
		t.Errorf("the list carries documents: %s", list.raw)
	}
	r := e.expect(e.do("GET", "/v1/campaigns/flow-only/versions/2", nil), http.StatusNotFound, "version 2")
	if !strings.Contains(string(r.raw), "version 2 of campaign flow-only not found") {
		t.Errorf("version 2: %s", r.raw)
	}
	r = e.expect(e.do("GET", "/v1/campaigns/flow-only/versions/latest", nil), http.StatusBadRequest, "a version that is no number")
	if r.errPath() != "path.number" {
		t.Errorf("bad number: %s", r.raw)
	}
	e.expect(e.do("GET", "/v1/campaigns/nope/versions/1", nil), http.StatusNotFound, "no campaign")
}

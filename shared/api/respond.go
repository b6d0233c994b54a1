package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	status := e.status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status >= 500 && e.Code == codeInternal {
		e.Message = "internal error" // never causes, stacks or SQL
	}
	writeJSON(w, status, ErrorBody{Error: *e})
}

// queryInt reads an integer query parameter within [min, max].
func queryInt(r *http.Request, name string, def, min, max int) (int, *Error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, fail(http.StatusBadRequest, codeInvalid, "query parameter %s must be an integer from %d to %d", name, min, max).at("query." + name)
	}
	return n, nil
}

// validRunID accepts the run ids the store makes (UUIDs) and similar tokens.
func validRunID(id string) bool {
	if id == "" || len(id) > 100 {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) < 0
}

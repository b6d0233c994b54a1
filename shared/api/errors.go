package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/stepwise-run/stepwise/shared/state"
)

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// fail returns an error response.
func fail(status int, code, format string, args ...any) *Error {
	return &Error{status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) at(path string) *Error { e.Path = path; return e }

// Stable error codes.
const (
	codeMalformed     = "malformed_json"
	codeUnknownField  = "unknown_field"
	codeInvalidType   = "invalid_type"
	codeTooLarge      = "body_too_large"
	codeInvalid       = "invalid_request"
	codeInvalidID     = "invalid_id"
	codeCampaign      = "invalid_campaign"
	codeParams        = "invalid_parameters"
	codeUnauthorized  = "unauthorized"
	codeNotFound      = "not_found"
	codeExists        = "already_exists"
	codeConflict      = "conflict"
	codeLifecycle     = "lifecycle_refused"
	codeTooSoon       = "too_soon"
	codeUnsupported   = "unsupported"
	codeInternal      = "internal"
	codeUnavailable   = "unavailable"
	codeMethod        = "method_not_allowed"
	codeMediaType     = "unsupported_media_type"
	codeNotActivated  = "transition_not_activated"
	codeBadToken      = "invalid_token"
	codeRunNotRunning = "run_not_running"
	codeKeyReused     = "idempotency_key_reused"
	codeNotConfigured = "not_configured"
	codeDeadline      = "deadline_exceeded"
)

// storeError maps a state store error to a response; anything unexpected is an
// internal error whose text stays in the server log.
func storeError(err error, what string) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, state.ErrNotFound):
		return fail(http.StatusNotFound, codeNotFound, "%s not found", what)
	case errors.Is(err, state.ErrExists):
		return fail(http.StatusConflict, codeExists, "%s already exists", what)
	case errors.Is(err, state.ErrConflict):
		return fail(http.StatusConflict, codeConflict, "%s changed meanwhile; read it again", what)
	}
	return &Error{status: http.StatusInternalServerError, Code: codeInternal, Message: "internal error", cause: err}
}

// decodeJSON reads a JSON body strictly into v: one value, no unknown fields. An empty
// body leaves v as is when allowEmpty.
func decodeJSON(r *http.Request, v any, allowEmpty bool) *Error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fail(http.StatusUnsupportedMediaType, codeMediaType, "send application/json, not %s", ct)
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fail(http.StatusRequestEntityTooLarge, codeTooLarge, "the request body is larger than %s (%d bytes)", sizeText(mbe.Limit), mbe.Limit)
		}
		return fail(http.StatusBadRequest, codeMalformed, "cannot read the request body")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if allowEmpty {
			return nil
		}
		return fail(http.StatusBadRequest, codeMalformed, "the request body is empty; send a JSON object").at("$")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, data, reflect.TypeOf(v))
	}
	if dec.More() {
		return fail(http.StatusBadRequest, codeMalformed, "unexpected data after the JSON value").at("$")
	}
	return nil
}

// sizeText writes a byte count in MiB or KiB when it is a whole number of them.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func jsonError(err error, data []byte, t reflect.Type) *Error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fail(http.StatusBadRequest, codeMalformed, "malformed JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: ")).at("$")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fail(http.StatusBadRequest, codeMalformed, "malformed JSON: unexpected end of input").at("$")
	case errors.As(err, &te):
		path := "$"
		if te.Field != "" {
			path += "." + te.Field
		}
		return fail(http.StatusBadRequest, codeInvalidType, "%s must be %s, not %s", path, jsonKind(te.Type), te.Value).at(path)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		var raw any
		json.Unmarshal(data, &raw)
		path, field := unknownPath(raw, t, "$")
		if path == "" {
			path = "$"
		}
		return fail(http.StatusBadRequest, codeUnknownField, "unknown field %q", field).at(path)
	}
	return fail(http.StatusBadRequest, codeMalformed, "malformed JSON").at("$")
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// unknownPath finds the first key of raw (in sorted order) that the type t has no
// field for, and returns its JSON path.
func unknownPath(raw any, t reflect.Type, path string) (string, string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(json.RawMessage{}) {
		return "", ""
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			return "", ""
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fields[k]
			if !ok {
				for name, ff := range fields {
					if strings.EqualFold(name, k) {
						f, ok = ff, true
					}
				}
			}
			if !ok {
				return path + "." + k, k
			}
			if p, name := unknownPath(obj[k], f.Type, path+"."+k); p != "" {
				return p, name
			}
		}
	case reflect.Slice:
		arr, ok := raw.([]any)
		if !ok {
			return "", ""
		}
		for i, x := range arr {
			if p, name := unknownPath(x, t.Elem(), path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p, name
			}
		}
	case reflect.Map:
		obj, ok := raw.(map[string]any)
		if !ok {
			return "", ""
		}
		for k, x := range obj {
			if p, name := unknownPath(x, t.Elem(), path+"."+k); p != "" {
				return p, name
			}
		}
	}
	return "", ""
}

func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

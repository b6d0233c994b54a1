package api

import (
	"errors"
	"net/http"
	"path/filepath"
	"strings"
)

// validFileName accepts plain file names: no folders, no dot files.
func validFileName(n string) bool {
	return n != "" && len(n) <= 200 && filepath.Base(n) == n && !strings.HasPrefix(n, ".") &&
		strings.IndexFunc(n, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
		}) < 0
}

func (s *Server) newUpload(w http.ResponseWriter, r *http.Request) *Error {
	var in UploadInput
	if e := decodeJSON(r, &in, false); e != nil {
		return e
	}
	if !validFileName(in.Name) {
		return fail(http.StatusBadRequest, codeInvalid, "name must be a plain file name (letters, digits, - _ .)").at("$.name")
	}
	if s.o.Uploads == nil {
		return fail(http.StatusNotImplemented, codeUnsupported, "uploads are not available here")
	}
	u, err := s.o.Uploads.NewUpload(r.Context(), in.Name)
	if err != nil {
		return storeError(err, "upload")
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request) *Error {
	rc, ok := s.o.Uploads.(Receiver)
	if !ok {
		return fail(http.StatusNotImplemented, codeUnsupported, "upload with the URL that POST /v1/uploads returns")
	}
	id, name := r.PathValue("id"), r.PathValue("name")
	if !validRunID(id) || !validFileName(name) {
		return fail(http.StatusBadRequest, codeInvalidID, "invalid upload id or file name")
	}
	u, err := rc.Receive(r.Context(), id, name, r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fail(http.StatusRequestEntityTooLarge, codeTooLarge, "the file is larger than %d bytes", mbe.Limit)
		}
		return storeError(err, "upload")
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

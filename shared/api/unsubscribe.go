package api

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/stepwise-run/stepwise/shared/feedback"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

var unsubscribePage = template.Must(template.New("u").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>Unsubscribe</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto">
{{if .Done}}<h1>You are unsubscribed</h1><p>You will receive no more {{.Channel}} messages from us at this address.</p>
{{else if .Bad}}<h1>This link does not work</h1><p>It may be incomplete. Copy the whole link from the message, or reply to it to unsubscribe.</p>
{{else}}<h1>Unsubscribe?</h1><p>Stop receiving {{.Channel}} messages from us at this address.</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>{{end}}
</body></html>
`))

type pageData struct {
	Done, Bad bool
	Channel   string
}

func page(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	unsubscribePage.Execute(w, d)
}

// unsubscribeGet shows a confirmation page: it changes nothing, so that link scanners
// that follow links unsubscribe nobody.
func (s *Server) unsubscribeGet(w http.ResponseWriter, r *http.Request) *Error {
	c, err := s.verify(r)
	if err != nil {
		page(w, http.StatusBadRequest, pageData{Bad: true})
		return nil
	}
	page(w, http.StatusOK, pageData{Channel: c.Channel})
	return nil
}

// unsubscribePost is RFC 8058 one-click unsubscribe: the POST itself unsubscribes.
func (s *Server) unsubscribePost(w http.ResponseWriter, r *http.Request) *Error {
	c, err := s.verify(r)
	if err != nil {
		page(w, http.StatusBadRequest, pageData{Bad: true})
		return nil
	}
	_, err = s.o.Store.Suppress(r.Context(), state.Suppression{Channel: c.Channel, Address: c.Address, Reason: state.SuppressUnsubscribe,
		At: s.o.Now(), Source: "unsubscribe:" + c.Campaign + "/" + c.Run + "/" + c.Activity})
	if err != nil {
		return storeError(err, "suppression")
	}
	if s.o.Feedback != nil {
		// The suppression is what the recipient asked for and it holds; a lost report
		// row is logged with what is needed to add it again (stepwise feedback import).
		rec := feedback.FromUnsubscribe(c, s.o.Now())
		if err := s.o.Feedback.RecordFeedback(r.Context(), rec); err != nil {
			s.o.Logger.Error("unsubscribe: feedback record not kept", "error", err.Error(), "eventId", rec.ID,
				"campaign", c.Campaign, "run", c.Run, "activity", c.Activity, "recipient", c.Recipient, "channel", c.Channel)
		}
	}
	page(w, http.StatusOK, pageData{Done: true, Channel: c.Channel})
	return nil
}

func (s *Server) verify(r *http.Request) (unsubscribe.Claims, error) {
	if len(s.o.UnsubscribeSecret) < unsubscribe.MinSecretLen {
		return unsubscribe.Claims{}, unsubscribe.ErrInvalid
	}
	c, err := unsubscribe.Verify(s.o.UnsubscribeSecret, r.PathValue("token"))
	if errors.Is(err, unsubscribe.ErrInvalid) && len(s.o.UnsubscribePrevious) >= unsubscribe.MinSecretLen {
		// Signed before the last rotation: mail already delivered must still
		// unsubscribe (RFC 8058 one-click; the laws' 30 days at least).
		if prev, perr := unsubscribe.Verify(s.o.UnsubscribePrevious, r.PathValue("token")); perr == nil {
			return prev, nil
		}
	}
	return c, err
}

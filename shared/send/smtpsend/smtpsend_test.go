package smtpsend

import (
	"errors"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/stepwise-run/stepwise/shared/send"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{&smtp.SMTPError{Code: 421, Message: "try later"}, send.KindThrottled},
		{&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}}, send.KindThrottled},
		{&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}}, send.KindTransient},
		{&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}}, send.KindPermanent},
		{&smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}}, send.KindAccount},
		{errors.New("connection reset"), send.KindTransient},
	} {
		if got := send.Kind(classify(c.err)); got != c.want {
			t.Errorf("%v: %d, want %d", c.err, got, c.want)
		}
	}
}

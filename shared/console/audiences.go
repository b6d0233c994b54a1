package console

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/stepwise-run/stepwise/shared/api"
)

type audiencesData struct {
	CSRF      string
	Error     string
	Audiences []audienceView
}

type audienceView struct {
	api.AudienceDetail
	Error string
	Chart template.HTML // sizes by version
}

// audiencesPage lists the saved audiences, each with its versions and the
// campaigns that read or save it.
func (c *Console) audiencesPage(w http.ResponseWriter, r *http.Request, se session) {
	ctx := r.Context()
	d := audiencesData{CSRF: se.csrf}
	var list api.AudienceList
	if err := c.get(ctx, "/v1/audiences", nil, &list); err != nil {
		d.Error = err.Error()
	}
	for _, a := range list.Audiences {
		v := audienceView{AudienceDetail: api.AudienceDetail{Name: a.Name}}
		if err := c.get(ctx, "/v1/audiences/"+url.PathEscape(a.Name), nil, &v.AudienceDetail); err != nil {
			v.Error = err.Error()
		}
		if len(v.Versions) > 1 {
			var bars []bar
			for i := min(len(v.Versions), 20) - 1; i >= 0; i-- { // the newest 20, oldest first
				x := v.Versions[i]
				bars = append(bars, bar{Label: "version " + strconv.FormatInt(x.Version, 10), Value: x.Count})
			}
			v.Chart = barChart("sizes", bars)
		}
		d.Audiences = append(d.Audiences, v)
	}
	c.render(w, http.StatusOK, "audiences.html", d)
}

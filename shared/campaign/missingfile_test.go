package campaign_test

import (
	"path/filepath"
	"testing"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// A file that does not exist is named in full; a diagnostic without a
// position names the file alone (no :0:0).
func TestMissingFileDiagnostics(t *testing.T) {
	dir := t.TempDir()
	_, diags := campaign.LoadCampaign(filepath.Join(dir, "nope.yaml"))
	if len(diags) != 1 || diags[0].String() != filepath.Join(dir, "nope.yaml")+": campaign file "+filepath.Join(dir, "nope.yaml")+" does not exist" {
		t.Errorf("campaign: %v", diags)
	}
	t.Chdir(dir)
	_, diags = campaign.LoadCatalog("catalog.yaml")
	if len(diags) != 1 || diags[0].String() != "catalog.yaml: catalog file "+filepath.Join(dir, "catalog.yaml")+" does not exist" {
		t.Errorf("catalog: %v", diags)
	}
	if s := (campaign.Pos{File: "a.yaml", Line: 3, Col: 2}).String(); s != "a.yaml:3:2" {
		t.Errorf("with a position: %s", s)
	}
}

package testenv_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/stepwise-run/stepwise/shared/testenv"
)

// Servers started side by side are each the test's own: a bucket made on
// one is listed by it alone. (With a port picked before the server bound
// it, two could answer on one port, and CI once ran two tests on one moto.)
func TestMotoServersAreTheirOwn(t *testing.T) {
	const n = 4
	urls := make([]string, n)
	t.Run("start", func(t *testing.T) {
		for i := range n {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				urls[i] = testenv.Moto(t)
				do(t, http.MethodPut, urls[i]+fmt.Sprintf("/bucket-%d", i))
				// checked before this server stops, while others may run
				t.Cleanup(func() {
					got := regexp.MustCompile(`<Name>([^<]+)</Name>`).FindAllStringSubmatch(do(t, http.MethodGet, urls[i]+"/"), -1)
					var names []string
					for _, m := range got {
						names = append(names, m[1])
					}
					if want := []string{fmt.Sprintf("bucket-%d", i)}; !slices.Equal(names, want) {
						t.Errorf("server %d (%s) lists %v, want %v", i, urls[i], names, want)
					}
				})
			})
		}
	})
	slices.Sort(urls)
	if len(slices.Compact(urls)) != n {
		t.Errorf("servers share a URL: %v", urls)
	}
}

func do(t *testing.T, method, url string) string {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", method, url, res.Status, b)
	}
	return string(b)
}

package deploy

import (
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzEnvFlag: a flag's LIVESTREAM_ variable names that flag again, as
// cmd/livestream's flagsFromEnv derives it; other variables name none.
func FuzzEnvFlag(f *testing.F) {
	for _, s := range []string{"redis-url", "internal-http-addr", "s3-path-style", "max-streams", "AWS_ACCESS_KEY_ID", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == "" {
			env := "LIVESTREAM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
			if got := envFlag(env); got != name {
				t.Errorf("envFlag(%q) = %q, want %q", env, got, name)
			}
		}
		if !strings.HasPrefix(name, "LIVESTREAM_") && envFlag(name) != "" {
			t.Errorf("envFlag(%q) = %q, want none", name, envFlag(name))
		}
	})
}

// FuzzCPUCores: millicores and cores agree, and no quantity panics.
func FuzzCPUCores(f *testing.F) {
	for _, n := range []int{0, 1, 250, 1000, 2500} {
		f.Add(n, "")
	}
	f.Add(0, "2")
	f.Add(0, "500m")
	f.Add(0, "1.5")
	f.Fuzz(func(t *testing.T, milli int, q string) {
		cpuCores(q)
		if milli < 0 || milli > 1<<30 {
			return
		}
		if got, want := cpuCores(strconv.Itoa(milli)+"m"), float64(milli)/1000; got != want {
			t.Errorf("cpuCores(%dm) = %v, want %v", milli, got, want)
		}
		if milli%1000 == 0 {
			if got := cpuCores(strconv.Itoa(milli / 1000)); got != float64(milli/1000) {
				t.Errorf("cpuCores(%d) = %v", milli/1000, got)
			}
		}
	})
}

func TestPortNumberAndSelects(t *testing.T) {
	named := map[string]int{"http": 8090}
	for _, c := range []struct {
		in   string
		want int
	}{{"http", 8090}, {"8080", 8080}, {"rtmp", 0}} {
		if got := portNumber(yamlScalar(c.in), named); got != c.want {
			t.Errorf("portNumber(%q) = %d, want %d", c.in, got, c.want)
		}
	}
	if !selects(map[string]string{"a": "1"}, map[string]string{"a": "1", "b": "2"}) || selects(map[string]string{"a": "2"}, map[string]string{"a": "1"}) {
		t.Error("selects: wrong answer")
	}
}

func yamlScalar(s string) yaml.Node { return yaml.Node{Kind: yaml.ScalarNode, Value: s} }

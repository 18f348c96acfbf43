package deploy

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const composeFile = "../docker-compose.yml"

// composeService is the part of a Compose service the tests read (YAML
// anchors and merge keys are resolved by the decoder, as Compose does).
type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Build       struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

func loadCompose(t *testing.T) map[string]composeService {
	t.Helper()
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	decodeFile(t, composeFile, &f)
	if len(f.Services) == 0 {
		t.Fatalf("%s: no services", composeFile)
	}
	return f.Services
}

// healthTarget finds the port and path a health check asks:
// bash's /dev/tcp/127.0.0.1/PORT with "GET /PATH", or a URL.
var healthTarget = regexp.MustCompile(`(?:/dev/tcp/127\.0\.0\.1/|//(?:127\.0\.0\.1|localhost):)(\d+)\b.*?GET (/\S*)|(?:127\.0\.0\.1|localhost):(\d+)(/\S*)`)

// TestComposeRoles: the cluster of docker-compose.yml is 1 proxy, 2
// servers and 1 origin built from Dockerfile.build, each running a role
// with flags and LIVESTREAM_* variables it has, health-checked on /healthz
// at the port it serves it on; servers advertise their service name;
// services start after what they depend on is healthy.
func TestComposeRoles(t *testing.T) {
	needRoles(t)
	services := loadCompose(t)
	count := map[string]int{}
	for name, svc := range services {
		for dep, d := range svc.DependsOn {
			if _, ok := services[dep]; !ok {
				t.Errorf("%s: depends on %s: no such service", name, dep)
			}
			if d.Condition != "service_healthy" && d.Condition != "service_completed_successfully" {
				t.Errorf("%s: depends on %s with condition %q: want it healthy (or a one-shot completed)", name, dep, d.Condition)
			}
			if d.Condition == "service_healthy" && services[dep].Healthcheck == nil {
				t.Errorf("%s: waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
		if svc.Build.Dockerfile == "" {
			continue
		}
		where := composeFile + ": " + name
		if svc.Build.Dockerfile != "Dockerfile.build" || svc.Build.Context != "." {
			t.Errorf("%s: build %+v: want context . and Dockerfile.build", where, svc.Build)
		}
		if len(svc.Command) == 0 || roles[svc.Command[0]] == nil {
			t.Errorf("%s: command %v: want a role first, one of %v", where, svc.Command, keys(roles))
			continue
		}
		s := setting{role: roles[svc.Command[0]], args: svc.Command[1:], env: svc.Environment}
		count[s.role.name]++
		s.check(t, where)
		if u := s.env["LIVESTREAM_REDIS_URL"]; !strings.Contains(u, "${REDIS_PASSWORD") {
			t.Errorf("%s: LIVESTREAM_REDIS_URL %q: want the password from ${REDIS_PASSWORD}", where, u)
		}
		if v, ok := s.env["AWS_SECRET_ACCESS_KEY"]; ok && !strings.HasPrefix(v, "${") {
			t.Errorf("%s: AWS_SECRET_ACCESS_KEY is written in the file: take it from the environment", where)
		}
		for _, f := range s.role.secrets {
			if v, ok := s.env[envName(f)]; ok && !strings.Contains(v, "${") {
				t.Errorf("%s: %s is written in the file: take it from the environment (${…})", where, envName(f))
			}
		}
		if _, ok := s.value("admin-addr"); ok {
			if v := s.env[envName("admin-token")]; !strings.HasPrefix(v, "${") {
				t.Errorf("%s: serves the admin API with LIVESTREAM_ADMIN_TOKEN %q: want it from the environment, ${…:?…}", where, v)
			}
		}
		checkComposePorts(t, where, svc, s)
		for _, f := range s.role.listens {
			s.listenPort(t, where, f)
		}
		healthPort := s.listenPort(t, where, s.role.health)
		if svc.Healthcheck == nil {
			t.Errorf("%s: no healthcheck", where)
		} else {
			test := strings.Join(svc.Healthcheck.Test, " ")
			m := healthTarget.FindStringSubmatch(test)
			if m == nil {
				t.Errorf("%s: healthcheck %q asks no 127.0.0.1 port", where, test)
			} else if port, path := m[1]+m[3], m[2]+m[4]; port != healthPort || path != "/healthz" {
				t.Errorf("%s: healthcheck asks :%s%s, want :%s/healthz (--%s)", where, port, path, healthPort, s.role.health)
			}
		}
		switch s.role.name {
		case "server":
			internal := s.listenPort(t, where, "internal-http-addr")
			if a, _ := s.value("advertise-addr"); a != name+":"+internal {
				t.Errorf("%s: --advertise-addr %q: want %s:%s, its service name", where, a, name, internal)
			}
			if _, ok := s.value("max-streams"); !ok {
				t.Errorf("%s: no --max-streams", where)
			}
		case "proxy":
			if !slices.Contains(svc.Ports, "1935:1935") {
				t.Errorf("%s: ports %v: want 1935:1935 for publishers", where, svc.Ports)
			}
		case "origin":
			if !slices.Contains(svc.Ports, "8080:8080") {
				t.Errorf("%s: ports %v: want 8080:8080 for viewers", where, svc.Ports)
			}
		}
	}
	if want := map[string]int{"proxy": 1, "server": 2, "origin": 1}; !maps.Equal(count, want) {
		t.Errorf("livestream services by role: %v, want %v", count, want)
	}
}

// TestComposeBackingServices: Redis 7 with a password from the
// environment, an S3 server and a one-shot bucket creation that the
// servers wait for.
func TestComposeBackingServices(t *testing.T) {
	services := loadCompose(t)
	redis, ok := services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}
	if !strings.HasPrefix(redis.Image, "redis:7") {
		t.Errorf("redis: image %q, want redis:7", redis.Image)
	}
	if cmd := strings.Join(redis.Command, " "); !strings.Contains(cmd, "--requirepass") {
		t.Errorf("redis: command %q sets no password", cmd)
	}
	if v := redis.Environment["REDIS_PASSWORD"]; !strings.HasPrefix(v, "${REDIS_PASSWORD") {
		t.Errorf("redis: REDIS_PASSWORD %q: want it from the environment", v)
	}
	for name, svc := range services {
		if svc.Build.Dockerfile == "" || len(svc.Command) == 0 || svc.Command[0] != "server" {
			continue
		}
		bucket := svc.Environment["LIVESTREAM_S3_BUCKET"]
		if bucket == "" {
			t.Errorf("%s: records to no S3 bucket", name)
		}
		if svc.DependsOn["create-bucket"].Condition != "service_completed_successfully" {
			t.Errorf("%s: does not wait for create-bucket to complete", name)
		}
		if !strings.Contains(readFile(t, composeFile), "s3/"+bucket) {
			t.Errorf("create-bucket does not create %s", bucket)
		}
	}
	if !strings.Contains(readFile(t, composeFile), `keys create "my channel"`) {
		t.Errorf("%s: no example of `keys create`", composeFile)
	}
	if df := readFile(t, "../Dockerfile.build"); !strings.Contains(df, `ENTRYPOINT ["/usr/local/bin/livestream"]`) {
		t.Error("Dockerfile.build: the entrypoint is not livestream, which the roles' commands rely on")
	}
}

// checkComposePorts: every published port parses, and a private listener's
// port (the origin's admin API, a server's internal HLS) is published on
// the host's loopback only, if at all.
func checkComposePorts(t *testing.T, where string, svc composeService, s setting) {
	t.Helper()
	private := s.privatePorts()
	for _, entry := range svc.Ports {
		p, err := parseComposePort(entry)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		for port, flag := range private {
			n, _ := strconv.Atoi(port)
			if p.publishes(n) && !p.loopback() {
				t.Errorf("%s: ports %q publishes livestream %s's --%s on every interface of the host: bind it to 127.0.0.1 (\"127.0.0.1:%s:%s\")",
					where, entry, s.role.name, flag, port, port)
			}
		}
	}
}

// TestComposeImagesPinned: every image pulled from a registry is pinned to
// a version or a digest (those built here from Dockerfile.build are the
// source's own).
func TestComposeImagesPinned(t *testing.T) {
	services := loadCompose(t)
	n := 0
	for _, name := range keys(services) {
		svc := services[name]
		if svc.Build.Dockerfile != "" {
			continue
		}
		n++
		if err := pinned(svc.Image); err != nil {
			t.Errorf("%s: %s: %v", composeFile, name, err)
		}
	}
	if n == 0 {
		t.Errorf("%s: no image pulled from a registry (Redis, the S3 server)", composeFile)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

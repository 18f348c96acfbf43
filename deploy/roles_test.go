package deploy

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// role is what a deployment file may use of one livestream role: the flags
// its help lists, which of them are listen addresses, which one serves
// /healthz, and which listeners must stay inside the cluster.
type role struct {
	name    string
	flags   map[string]bool
	listens []string // flags holding a listen address
	health  string   // the listen flag serving /healthz
	// private are the listen flags whose port no load balancer, node port
	// or host port may expose: the admin API, the servers' internal HLS.
	private []string
	// secrets are the flags whose value is a secret: given by a Secret or
	// the environment, never written in a file.
	secrets []string
}

// roles are the cluster's roles, with their listeners as cmd/livestream
// wires them; their flags come from the built binary's help.
var roles = map[string]*role{
	"proxy": {name: "proxy", listens: []string{"rtmp-addr", "health-addr"}, health: "health-addr",
		secrets: []string{"redis-url"}},
	"server": {name: "server", listens: []string{"rtmp-addr", "internal-http-addr"}, health: "internal-http-addr",
		private: []string{"internal-http-addr"}, secrets: []string{"redis-url"}},
	"origin": {name: "origin", listens: []string{"http-addr", "admin-addr"}, health: "http-addr",
		private: []string{"admin-addr"}, secrets: []string{"redis-url", "admin-token"}},
}

// nonFlagEnv are the variables a container may set that are not a
// LIVESTREAM_<FLAG>: the AWS SDK's credentials, and the pod IP that
// LIVESTREAM_ADVERTISE_ADDR is made of.
var nonFlagEnv = map[string]bool{"AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true, "POD_IP": true}

var (
	loadRoles sync.Once
	rolesErr  error
)

// helpFlag matches a flag line of Go's flag.PrintDefaults: "  -name type".
var helpFlag = regexp.MustCompile(`(?m)^  -([a-z0-9][a-z0-9-]*)`)

// needRoles builds cmd/livestream once and fills each role's flags from
// `livestream ROLE -h`.
func needRoles(t *testing.T) map[string]*role {
	t.Helper()
	loadRoles.Do(func() {
		dir, err := os.MkdirTemp("", "livestream-deploy-")
		if err != nil {
			rolesErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "livestream")
		build := exec.Command("go", "build", "-o", bin, "../cmd/livestream")
		if out, err := build.CombinedOutput(); err != nil {
			rolesErr = fmt.Errorf("go build ../cmd/livestream: %v\n%s", err, out)
			return
		}
		for _, r := range roles {
			var out bytes.Buffer
			cmd := exec.Command(bin, r.name, "-h")
			cmd.Stdout, cmd.Stderr = &out, &out
			cmd.Run() // -h exits non-zero; the help is what counts
			r.flags = map[string]bool{}
			for _, m := range helpFlag.FindAllStringSubmatch(out.String(), -1) {
				r.flags[m[1]] = true
			}
			for _, f := range append([]string{"redis-url"}, r.listens...) {
				if !r.flags[f] {
					rolesErr = fmt.Errorf("livestream %s -h lists no --%s:\n%s", r.name, f, out.String())
					return
				}
			}
		}
	})
	if rolesErr != nil {
		t.Fatal(rolesErr)
	}
	return roles
}

// envFlag is the flag that LIVESTREAM_<FLAG> sets (as cmd/livestream's
// flagsFromEnv reads it), or "" for another variable.
func envFlag(name string) string {
	rest, ok := strings.CutPrefix(name, "LIVESTREAM_")
	if !ok {
		return ""
	}
	return strings.ToLower(strings.ReplaceAll(rest, "_", "-"))
}

// setting is one container's view of a role's configuration: its command
// line arguments after the role, and its environment.
type setting struct {
	role *role
	args []string
	env  map[string]string
}

// check reports every argument or variable the role does not have, and
// every secret given as an argument (which `ps` shows).
func (s setting) check(t *testing.T, where string) {
	t.Helper()
	for _, a := range s.args {
		name, ok := strings.CutPrefix(a, "--")
		if !ok {
			t.Errorf("%s: argument %q: want --flag[=value] (values with =)", where, a)
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		if !s.role.flags[name] {
			t.Errorf("%s: livestream %s has no flag --%s", where, s.role.name, name)
		}
		if slices.Contains(s.role.secrets, name) {
			t.Errorf("%s: --%s is a secret: give it as %s from a Secret or the environment, not an argument", where, name, envName(name))
		}
	}
	for name := range s.env {
		if f := envFlag(name); f != "" {
			if !s.role.flags[f] {
				t.Errorf("%s: %s: livestream %s has no flag --%s", where, name, s.role.name, f)
			}
		} else if !nonFlagEnv[name] {
			t.Errorf("%s: %s is neither a LIVESTREAM_<FLAG> of livestream %s nor one of %v", where, name, s.role.name, keys(nonFlagEnv))
		}
	}
}

// value is a flag's value: the argument, else its variable.
func (s setting) value(flag string) (string, bool) {
	for _, a := range s.args {
		if v, ok := strings.CutPrefix(a, "--"+flag+"="); ok {
			return v, true
		}
	}
	v, ok := s.env[envName(flag)]
	return v, ok
}

// envName is the LIVESTREAM_<FLAG> variable of flag.
func envName(flag string) string {
	return "LIVESTREAM_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// privatePorts are the ports of the role's private listeners that s sets.
func (s setting) privatePorts() map[string]string {
	out := map[string]string{} // port → flag
	for _, f := range s.role.private {
		if v, ok := s.value(f); ok {
			if _, port, err := net.SplitHostPort(v); err == nil && port != "" {
				out[port] = f
			}
		}
	}
	return out
}

// listenPort is the port of a listen flag, which the file must set (the
// probes and Services depend on it, not on a default that may change).
func (s setting) listenPort(t *testing.T, where, flag string) string {
	t.Helper()
	v, ok := s.value(flag)
	if !ok {
		t.Errorf("%s: --%s is not set: set it (LIVESTREAM_%s) so that probes and ports follow it",
			where, flag, strings.ToUpper(strings.ReplaceAll(flag, "-", "_")))
		return ""
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil || port == "" || port == "0" {
		t.Errorf("%s: --%s %q: want [host]:port with a fixed port", where, flag, v)
		return ""
	}
	return port
}

// keys are m's keys in order, for messages.
func keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

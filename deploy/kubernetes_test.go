package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const kubeDir = "kubernetes"

// The parts of the Kubernetes objects the tests read.
type (
	meta struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	}
	object struct {
		APIVersion string    `yaml:"apiVersion"`
		Kind       string    `yaml:"kind"`
		Metadata   meta      `yaml:"metadata"`
		file       string    // where it was read
		node       yaml.Node // the whole document, decoded again by kind
	}
	// workload is a Deployment or a StatefulSet: what they share, and the
	// StatefulSet's own serviceName and volumeClaimTemplates.
	workload struct {
		Spec struct {
			Replicas    *int   `yaml:"replicas"`
			ServiceName string `yaml:"serviceName"`
			Selector    struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata meta `yaml:"metadata"`
				Spec     struct {
					TerminationGracePeriodSeconds *int        `yaml:"terminationGracePeriodSeconds"`
					InitContainers                []container `yaml:"initContainers"`
					Containers                    []container `yaml:"containers"`
					Volumes                       []struct {
						Name string `yaml:"name"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
			VolumeClaimTemplates []claim `yaml:"volumeClaimTemplates"`
		} `yaml:"spec"`
	}
	// claim is a StatefulSet's volumeClaimTemplate.
	claim struct {
		Metadata meta `yaml:"metadata"`
		Spec     struct {
			AccessModes []string `yaml:"accessModes"`
			Resources   struct {
				Requests map[string]string `yaml:"requests"`
			} `yaml:"resources"`
		} `yaml:"spec"`
	}
	container struct {
		Name    string   `yaml:"name"`
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		Env     []struct {
			Name      string `yaml:"name"`
			Value     string `yaml:"value"`
			ValueFrom *struct {
				FieldRef *struct {
					FieldPath string `yaml:"fieldPath"`
				} `yaml:"fieldRef"`
				SecretKeyRef *struct {
					Name string `yaml:"name"`
					Key  string `yaml:"key"`
				} `yaml:"secretKeyRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		EnvFrom []struct {
			ConfigMapRef *struct {
				Name string `yaml:"name"`
			} `yaml:"configMapRef"`
			SecretRef *struct {
				Name string `yaml:"name"`
			} `yaml:"secretRef"`
		} `yaml:"envFrom"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
		Resources      struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	}
	probe struct {
		HTTPGet *struct {
			Path string    `yaml:"path"`
			Port yaml.Node `yaml:"port"`
		} `yaml:"httpGet"`
	}
	service struct {
		Spec struct {
			Type        string            `yaml:"type"`
			ClusterIP   string            `yaml:"clusterIP"`
			ExternalIPs []string          `yaml:"externalIPs"`
			Selector    map[string]string `yaml:"selector"`
			Ports       []struct {
				Name       string    `yaml:"name"`
				Port       int       `yaml:"port"`
				TargetPort yaml.Node `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	keyValues struct {
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
	}
	autoscaler struct {
		Spec struct {
			ScaleTargetRef struct {
				Kind string `yaml:"kind"`
				Name string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			MinReplicas int `yaml:"minReplicas"`
			MaxReplicas int `yaml:"maxReplicas"`
			Metrics     []struct {
				Type     string `yaml:"type"`
				Resource struct {
					Name string `yaml:"name"`
				} `yaml:"resource"`
			} `yaml:"metrics"`
		} `yaml:"spec"`
	}
)

// cluster is every object of deploy/kubernetes, by kind and name.
type cluster map[string]map[string]*object

func (c cluster) decode(t *testing.T, kind, name string, v any) bool {
	t.Helper()
	o, ok := c[kind][name]
	if !ok {
		return false
	}
	if err := o.node.Decode(v); err != nil {
		t.Fatalf("%s: %s %s: %v", o.file, kind, name, err)
	}
	return true
}

// loadCluster parses every manifest that kustomization.yaml lists, and
// checks that it lists every manifest of the directory.
func loadCluster(t *testing.T) cluster {
	t.Helper()
	var kust struct {
		Resources []string `yaml:"resources"`
		Namespace string   `yaml:"namespace"`
	}
	decodeFile(t, filepath.Join(kubeDir, "kustomization.yaml"), &kust)
	files, _ := filepath.Glob(filepath.Join(kubeDir, "*.yaml"))
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kust.Resources, base) {
			t.Errorf("kustomization.yaml does not list %s", base)
		}
	}
	c := cluster{}
	for _, res := range kust.Resources {
		b, err := os.ReadFile(filepath.Join(kubeDir, res))
		if err != nil {
			t.Fatalf("kustomization.yaml lists %s: %v", res, err)
		}
		d := yaml.NewDecoder(bytes.NewReader(b))
		for i := 0; ; i++ {
			o := &object{file: fmt.Sprintf("%s#%d", res, i)}
			err := d.Decode(&o.node)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", o.file, err)
			}
			if err := o.node.Decode(o); err != nil {
				t.Fatalf("%s: %v", o.file, err)
			}
			if o.Kind == "" || o.APIVersion == "" || o.Metadata.Name == "" {
				t.Fatalf("%s: want apiVersion, kind and metadata.name", o.file)
			}
			if c[o.Kind] == nil {
				c[o.Kind] = map[string]*object{}
			}
			if prev, dup := c[o.Kind][o.Metadata.Name]; dup {
				t.Fatalf("%s: %s %s is also in %s", o.file, o.Kind, o.Metadata.Name, prev.file)
			}
			c[o.Kind][o.Metadata.Name] = o
		}
	}
	if kust.Namespace == "" || c["Namespace"][kust.Namespace] == nil {
		t.Errorf("kustomization.yaml: namespace %q: want one that namespace.yaml creates", kust.Namespace)
	}
	return c
}

func decodeFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// containerSetting is the container's role configuration: its args after
// the role and its environment, from its ConfigMaps and Secrets first,
// then env (which wins, as in Kubernetes). Secrets give their names only:
// their values are placeholders.
func containerSetting(t *testing.T, c cluster, where string, k container) (setting, map[string]string) {
	t.Helper()
	s := setting{env: map[string]string{}}
	fromSecret := map[string]string{} // variable → Secret
	if len(k.Command) != 0 {
		t.Errorf("%s: command %v replaces the image's entrypoint (livestream): give the role in args", where, k.Command)
	}
	if len(k.Args) == 0 || roles[k.Args[0]] == nil {
		t.Errorf("%s: args %v: want a role first, one of %v", where, k.Args, keys(roles))
		return s, fromSecret
	}
	s.role, s.args = roles[k.Args[0]], k.Args[1:]
	for _, ef := range k.EnvFrom {
		var kv keyValues
		switch {
		case ef.ConfigMapRef != nil:
			if !c.decode(t, "ConfigMap", ef.ConfigMapRef.Name, &kv) {
				t.Errorf("%s: envFrom ConfigMap %s: no such ConfigMap", where, ef.ConfigMapRef.Name)
			}
			for name, v := range kv.Data {
				s.env[name] = v
			}
		case ef.SecretRef != nil:
			if !c.decode(t, "Secret", ef.SecretRef.Name, &kv) {
				t.Errorf("%s: envFrom Secret %s: no such Secret", where, ef.SecretRef.Name)
			}
			for name := range mergeMaps(kv.Data, kv.StringData) {
				s.env[name] = ""
				fromSecret[name] = ef.SecretRef.Name
			}
		default:
			t.Errorf("%s: envFrom without configMapRef or secretRef", where)
		}
	}
	for _, e := range k.Env {
		s.env[e.Name] = e.Value
		delete(fromSecret, e.Name)
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			fromSecret[e.Name] = e.ValueFrom.SecretKeyRef.Name
		}
	}
	return s, fromSecret
}

func mergeMaps(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// workloadKinds are the kinds that run the roles' pods.
var workloadKinds = []string{"Deployment", "StatefulSet"}

// runs is one Deployment or StatefulSet and its role.
type runs struct {
	kind, name, file string
	w                workload
	role             string            // its container's first argument
	ports            map[string]int    // container port name → number
	setting          setting           // its container's configuration
	fromSecret       map[string]string // variable → the Secret it comes from
}

// workloads are the cluster's Deployments and StatefulSets, in a stable
// order, with their single container's configuration.
func (c cluster) workloads(t *testing.T) []runs {
	t.Helper()
	var out []runs
	for _, kind := range workloadKinds {
		for _, name := range keys(c[kind]) {
			r := runs{kind: kind, name: name, file: c[kind][name].file, ports: map[string]int{}}
			c.decode(t, kind, name, &r.w)
			for _, k := range r.w.Spec.Template.Spec.Containers {
				if len(k.Args) > 0 {
					r.role = k.Args[0]
				}
				for _, cp := range k.Ports {
					r.ports[cp.Name] = cp.ContainerPort
				}
			}
			if len(r.w.Spec.Template.Spec.Containers) == 1 && roles[r.role] != nil {
				r.setting, r.fromSecret = containerSetting(t, c, r.where(), r.w.Spec.Template.Spec.Containers[0])
			}
			out = append(out, r)
		}
	}
	return out
}

func (r runs) where() string { return r.file + ": " + r.kind + " " + r.name }

// TestKubernetesContainers: each Deployment or StatefulSet runs a real
// role of the binary, with flags and LIVESTREAM_* variables that role has;
// the Redis URL, the admin token and the S3 credentials come from Secrets;
// readiness and liveness probes ask /healthz on the port the role serves
// it on, and every container port is one the role listens on.
func TestKubernetesContainers(t *testing.T) {
	needRoles(t)
	c := loadCluster(t)
	seen := map[string]bool{}
	for _, r := range c.workloads(t) {
		d, where := r.w, r.where()
		tmpl := d.Spec.Template
		if len(d.Spec.Selector.MatchLabels) == 0 || !selects(d.Spec.Selector.MatchLabels, tmpl.Metadata.Labels) {
			t.Errorf("%s: selector %v does not select its pods' labels %v", where, d.Spec.Selector.MatchLabels, tmpl.Metadata.Labels)
		}
		if len(tmpl.Spec.Containers) != 1 {
			t.Errorf("%s: %d containers, want 1", where, len(tmpl.Spec.Containers))
			continue
		}
		k := tmpl.Spec.Containers[0]
		where += " container " + k.Name
		if img, _, _ := strings.Cut(k.Image, ":"); img != "livestream" {
			t.Errorf("%s: image %q: want livestream (kustomization.yaml's images: sets the registry and tag)", where, k.Image)
		}
		s, fromSecret := r.setting, r.fromSecret
		if s.role == nil {
			t.Errorf("%s: args %v: want a role first, one of %v", where, k.Args, keys(roles))
			continue
		}
		seen[s.role.name] = true
		s.check(t, where)

		_, admin := s.value("admin-addr")
		for _, f := range s.role.secrets {
			v := envName(f)
			_, given := s.env[v]
			needed := f == "redis-url" || f == "admin-token" && admin
			if (given || needed) && fromSecret[v] == "" {
				t.Errorf("%s: %s: want it from a Secret (it is one)", where, v)
			}
		}
		if s.role.name != "proxy" && s.env["LIVESTREAM_S3_BUCKET"] != "" {
			for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
				if fromSecret[v] == "" {
					t.Errorf("%s: %s: want it from a Secret", where, v)
				}
			}
		}

		listening := map[string]bool{}
		for _, f := range s.role.listens {
			if p := s.listenPort(t, where, f); p != "" {
				listening[p] = true
			}
		}
		for _, p := range k.Ports {
			if !listening[strconv.Itoa(p.ContainerPort)] {
				t.Errorf("%s: containerPort %d (%s): livestream %s listens on %v", where, p.ContainerPort, p.Name, s.role.name, keys(listening))
			}
		}
		healthPort := s.listenPort(t, where, s.role.health)
		for kind, p := range map[string]*probe{"readinessProbe": k.ReadinessProbe, "livenessProbe": k.LivenessProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s: no %s.httpGet", where, kind)
				continue
			}
			if p.HTTPGet.Path != "/healthz" {
				t.Errorf("%s: %s path %q: want /healthz", where, kind, p.HTTPGet.Path)
			}
			if got := portNumber(p.HTTPGet.Port, r.ports); strconv.Itoa(got) != healthPort {
				t.Errorf("%s: %s port %q is %d: /healthz is on --%s's port %s", where, kind, p.HTTPGet.Port.Value, got, s.role.health, healthPort)
			}
		}
		for _, res := range []string{"cpu", "memory"} {
			if k.Resources.Requests[res] == "" || k.Resources.Limits[res] == "" {
				t.Errorf("%s: resources: want requests and limits of %s", where, res)
			}
		}
		if tmpl.Spec.TerminationGracePeriodSeconds == nil {
			t.Errorf("%s: no terminationGracePeriodSeconds", where)
		}
		for _, m := range k.VolumeMounts {
			if !slices.Contains(volumeNames(d), m.Name) {
				t.Errorf("%s: volumeMount %s: no such volume or volumeClaimTemplate", where, m.Name)
			}
		}
		if s.role.name == "server" {
			checkServer(t, where, r, k, s)
		}
	}
	for r := range roles {
		if !seen[r] {
			t.Errorf("no Deployment or StatefulSet runs livestream %s", r)
		}
	}
}

// volumeNames are the pod's volumes and the StatefulSet's claims.
func volumeNames(d workload) []string {
	var out []string
	for _, v := range d.Spec.Template.Spec.Volumes {
		out = append(out, v.Name)
	}
	for _, v := range d.Spec.VolumeClaimTemplates {
		out = append(out, v.Metadata.Name)
	}
	return out
}

// checkServer: a server is a StatefulSet whose data directory (and spool,
// if elsewhere) is on a volume of its own that outlives the pod; it
// advertises its pod IP and internal port, asks a core per stream it
// takes, and has time to end its streams on SIGTERM.
func checkServer(t *testing.T, where string, r runs, k container, s setting) {
	t.Helper()
	d := r.w
	if r.kind != "StatefulSet" {
		t.Errorf("%s: a %s: want a StatefulSet, whose volumeClaimTemplates keep the recordings' spool across a pod's deletion", where, r.kind)
	}
	dataDir, ok := s.value("data-dir")
	if !ok || !path.IsAbs(dataDir) {
		t.Errorf("%s: --data-dir %q: want an absolute path on the claimed volume (the default ./data is relative to the image's workdir)", where, dataDir)
	}
	dirs := map[string]string{"data-dir": dataDir}
	if spool, ok := s.value("spool-dir"); ok {
		dirs["spool-dir"] = spool
	}
	for flag, dir := range dirs {
		if dir == "" {
			continue
		}
		mount := ""
		for _, m := range k.VolumeMounts {
			if within(dir, m.MountPath) && len(m.MountPath) >= len(mount) {
				mount = m.MountPath // the deepest mount holding dir wins
			}
		}
		name := ""
		for _, m := range k.VolumeMounts {
			if m.MountPath == mount {
				name = m.Name
			}
		}
		i := slices.IndexFunc(d.Spec.VolumeClaimTemplates, func(v claim) bool { return v.Metadata.Name == name })
		switch {
		case mount == "":
			t.Errorf("%s: --%s %s is on no volume: the container's file system (read-only) is lost with the pod", where, flag, dir)
		case i < 0:
			t.Errorf("%s: --%s %s is on volume %s, mounted at %s, which is no volumeClaimTemplate: it is lost with the pod", where, flag, dir, name, mount)
		case d.Spec.VolumeClaimTemplates[i].Spec.Resources.Requests["storage"] == "":
			t.Errorf("%s: volumeClaimTemplate %s requests no storage", where, name)
		}
	}

	internal := s.listenPort(t, where, "internal-http-addr")
	podIP := -1
	for i, e := range k.Env {
		if e.Name == "POD_IP" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP" {
			podIP = i
		}
		if e.Name == "LIVESTREAM_ADVERTISE_ADDR" {
			if want := "$(POD_IP):" + internal; e.Value != want {
				t.Errorf("%s: LIVESTREAM_ADVERTISE_ADDR %q: want %q", where, e.Value, want)
			}
			if podIP < 0 {
				t.Errorf("%s: LIVESTREAM_ADVERTISE_ADDR comes before POD_IP (status.podIP): Kubernetes would not expand $(POD_IP)", where)
			}
		}
	}
	if _, ok := s.value("advertise-addr"); !ok {
		t.Errorf("%s: no LIVESTREAM_ADVERTISE_ADDR: origins would be told the pod's host name, which no DNS resolves", where)
	}
	maxStreams, _ := s.value("max-streams")
	n, err := strconv.Atoi(maxStreams)
	if err != nil || n < 1 {
		t.Errorf("%s: --max-streams %q: want a limit, so that a full server refuses and the proxy picks another", where, maxStreams)
	} else if cores := cpuCores(k.Resources.Requests["cpu"]); cores < float64(n) {
		t.Errorf("%s: requests %v CPU for --max-streams %d: a 720p ladder takes about a core", where, cores, n)
	}
	// cmd/livestream's server gives its shutdown 30 s, then stores the
	// last segments.
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g <= 30 {
		t.Errorf("%s: terminationGracePeriodSeconds: want more than the server's 30 s shutdown", where)
	}
}

// within reports whether the absolute path dir is mount or below it.
func within(dir, mount string) bool {
	dir, mount = path.Clean(dir), path.Clean(mount)
	return dir == mount || strings.HasPrefix(dir, strings.TrimSuffix(mount, "/")+"/")
}

// cpuCores parses a CPU quantity ("2", "500m"); 0 if it cannot.
func cpuCores(q string) float64 {
	if m, ok := strings.CutSuffix(q, "m"); ok {
		n, _ := strconv.ParseFloat(m, 64)
		return n / 1000
	}
	n, _ := strconv.ParseFloat(q, 64)
	return n
}

// portNumber resolves a port given by number or by the container's name
// for it; 0 when it names no port.
func portNumber(n yaml.Node, named map[string]int) int {
	if p, err := strconv.Atoi(n.Value); err == nil {
		return p
	}
	return named[n.Value]
}

// selects reports whether labels has every pair of selector.
func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// externalTypes are the Service types that reach outside the cluster.
var externalTypes = map[string]bool{"LoadBalancer": true, "NodePort": true}

// TestKubernetesServices: each Service selects the pods of exactly one
// Deployment or StatefulSet and targets ports its container declares: the
// proxies' is a LoadBalancer on 1935, the origins' a LoadBalancer on 80 to
// their HTTP port, the servers' the headless Service their StatefulSet
// names. No Service that reaches outside the cluster exposes a private
// port (the origins' admin API, the servers' internal HLS), and a ClusterIP
// Service exposes the origins' admin API. The autoscaler scales the
// servers' StatefulSet on CPU.
func TestKubernetesServices(t *testing.T) {
	c := loadCluster(t)
	all := c.workloads(t)
	want := map[string]struct {
		typ      string
		headless bool
		port     int // a port the Service must have, 0 for any
		target   int
	}{
		"proxy":  {typ: "LoadBalancer", port: 1935, target: 1935},
		"origin": {typ: "LoadBalancer", port: 80, target: 8080},
		"server": {headless: true},
	}
	served := map[string]bool{}
	privateServed := map[string]bool{} // "role --flag" exposed by a ClusterIP Service
	for _, name := range keys(c["Service"]) {
		o := c["Service"][name]
		var s service
		c.decode(t, "Service", name, &s)
		where := o.file + ": Service " + name
		var matched []runs
		for _, r := range all {
			if len(s.Spec.Selector) > 0 && selects(s.Spec.Selector, r.w.Spec.Template.Metadata.Labels) {
				matched = append(matched, r)
			}
		}
		if len(matched) != 1 {
			t.Errorf("%s: selector %v selects the pods of %d Deployments and StatefulSets, want 1", where, s.Spec.Selector, len(matched))
			continue
		}
		r := matched[0]
		external := externalTypes[s.Spec.Type] || len(s.Spec.ExternalIPs) > 0
		private := map[string]string{}
		if r.setting.role != nil {
			private = r.setting.privatePorts()
		}
		w := want[r.role]
		isWanted := (w.typ == "" || s.Spec.Type == w.typ) && (!w.headless || s.Spec.ClusterIP == "None")
		found := w.port == 0
		for _, sp := range s.Spec.Ports {
			target := portNumber(sp.TargetPort, r.ports)
			if sp.TargetPort.Value == "" {
				target = sp.Port
			}
			if !slices.Contains(mapValues(r.ports), target) {
				t.Errorf("%s: port %d targets %q, which the pods of %s do not declare", where, sp.Port, sp.TargetPort.Value, r.name)
			}
			if flag, ok := private[strconv.Itoa(target)]; ok {
				if external {
					t.Errorf("%s: a %s Service exposes port %d, livestream %s's --%s, outside the cluster: give it a ClusterIP Service of its own", where, s.Spec.Type, target, r.role, flag)
				} else {
					privateServed[r.role+" --"+flag] = true
				}
			}
			if sp.Port == w.port && target == w.target {
				found = true
			}
		}
		if isWanted && found {
			served[r.role] = true
		}
		if r.w.Spec.ServiceName == name && s.Spec.ClusterIP != "None" {
			t.Errorf("%s: the serviceName of StatefulSet %s: clusterIP %q, want None (headless)", where, r.name, s.Spec.ClusterIP)
		}
	}
	for role, w := range want {
		if served[role] {
			continue
		}
		if w.headless {
			t.Errorf("no headless Service (clusterIP: None) selects the %s pods", role)
		} else {
			t.Errorf("no %s Service selects the %s pods with port %d to their %d", w.typ, role, w.port, w.target)
		}
	}
	for _, r := range all {
		if r.kind == "StatefulSet" && c["Service"][r.w.Spec.ServiceName] == nil {
			t.Errorf("%s: serviceName %q: no such Service", r.where(), r.w.Spec.ServiceName)
		}
		if r.role == "origin" && r.setting.role != nil {
			if _, ok := r.setting.value("admin-addr"); ok && !privateServed["origin --admin-addr"] {
				t.Errorf("%s: serves the admin API (--admin-addr), which no ClusterIP Service exposes", r.where())
			}
		}
	}

	if len(c["HorizontalPodAutoscaler"]) == 0 {
		t.Error("no HorizontalPodAutoscaler")
	}
	for name, o := range c["HorizontalPodAutoscaler"] {
		var h autoscaler
		c.decode(t, "HorizontalPodAutoscaler", name, &h)
		where := o.file + ": HorizontalPodAutoscaler " + name
		ref := h.Spec.ScaleTargetRef
		i := slices.IndexFunc(all, func(r runs) bool { return r.kind == ref.Kind && r.name == ref.Name })
		if i < 0 {
			t.Errorf("%s: scales %s %s: no such Deployment or StatefulSet", where, ref.Kind, ref.Name)
		} else if all[i].role != "server" {
			t.Errorf("%s: scales livestream %s, want server (the CPU-heavy role)", where, all[i].role)
		}
		if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource.Name != "cpu" {
			t.Errorf("%s: want one metric, cpu", where)
		}
		if h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < h.Spec.MinReplicas {
			t.Errorf("%s: replicas %d..%d", where, h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
	}
}

// TestKubernetesImagesPinned: every container runs an image pinned to a
// version or a digest once kustomization.yaml's images: are applied, as
// kustomize applies them.
func TestKubernetesImagesPinned(t *testing.T) {
	c := loadCluster(t)
	var kust struct {
		Images []struct {
			Name    string `yaml:"name"`
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
			Digest  string `yaml:"digest"`
		} `yaml:"images"`
	}
	decodeFile(t, filepath.Join(kubeDir, "kustomization.yaml"), &kust)
	n := 0
	for _, r := range c.workloads(t) {
		spec := r.w.Spec.Template.Spec
		for _, k := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			img := parseImage(k.Image)
			for _, ki := range kust.Images {
				if ki.Name != img.name {
					continue
				}
				if ki.NewName != "" {
					img.name = ki.NewName
				}
				if ki.NewTag != "" {
					img.tag = ki.NewTag
				}
				if ki.Digest != "" {
					img.digest = ki.Digest
				}
			}
			n++
			if err := pinned(img.String()); err != nil {
				t.Errorf("%s container %s: %v (the image %q with kustomization.yaml's images:)", r.where(), k.Name, err, k.Image)
			}
		}
	}
	if n == 0 {
		t.Error("no container")
	}
}

func mapValues(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestKubernetesSecretsStayOutOfConfigMaps: no ConfigMap holds what must be
// a Secret (ConfigMaps are readable more widely, and shown by describe).
func TestKubernetesSecretsStayOutOfConfigMaps(t *testing.T) {
	c := loadCluster(t)
	for name, o := range c["ConfigMap"] {
		var kv keyValues
		c.decode(t, "ConfigMap", name, &kv)
		for k, v := range kv.Data {
			if k == "LIVESTREAM_REDIS_URL" || strings.HasPrefix(k, "AWS_") || strings.Contains(k, "TOKEN") || strings.Contains(k, "SECRET") {
				t.Errorf("%s: ConfigMap %s holds %s: put it in a Secret", o.file, name, k)
			}
			if strings.Contains(v, "@") && strings.Contains(v, "://") {
				t.Errorf("%s: ConfigMap %s: %s holds a URL with credentials", o.file, name, k)
			}
		}
	}
}

// TestKustomizeBuild renders the directory with kubectl's kustomize, which
// needs no cluster (`kubectl apply --dry-run=client` does: it asks the API
// server for its types), and checks every object lands in the namespace.
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: the manifests are checked by the other tests only")
	}
	out, err := exec.Command(kubectl, "kustomize", kubeDir).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("kubectl kustomize %s: %v\n%s", kubeDir, err, ee.Stderr)
		}
		t.Fatalf("kubectl kustomize %s: %v", kubeDir, err)
	}
	d := yaml.NewDecoder(bytes.NewReader(out))
	n := 0
	for {
		var o struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name      string `yaml:"name"`
				Namespace string `yaml:"namespace"`
			} `yaml:"metadata"`
		}
		if err := d.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("kubectl kustomize output: %v", err)
		}
		n++
		if o.Kind != "Namespace" && o.Metadata.Namespace != "livestream" {
			t.Errorf("%s %s: namespace %q, want livestream", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
		}
	}
	if n < 10 {
		t.Errorf("kubectl kustomize rendered %d objects, want the 15 of the manifests", n)
	}
}

// Package deploy holds resnet-gpu's container image and Kubernetes
// manifests; its test checks that they are valid and agree with each
// other, since no cluster is available to apply them.
package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The fields of the Kubernetes and KServe objects the manifests use. The
// manifests are decoded strictly into them, so a misspelt or misplaced
// field (readinesProbe, ports under the pod spec) fails the test as the
// API server would refuse it.
type (
	meta struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	header struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   meta   `yaml:"metadata"`
	}
	port struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	}
	probe struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port any    `yaml:"port"`
		} `yaml:"httpGet"`
		PeriodSeconds    int `yaml:"periodSeconds"`
		FailureThreshold int `yaml:"failureThreshold"`
	}
	resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	}
	container struct {
		Name           string    `yaml:"name"`
		Image          string    `yaml:"image"`
		Args           []string  `yaml:"args"`
		Ports          []port    `yaml:"ports"`
		StartupProbe   *probe    `yaml:"startupProbe"`
		ReadinessProbe *probe    `yaml:"readinessProbe"`
		LivenessProbe  *probe    `yaml:"livenessProbe"`
		Resources      resources `yaml:"resources"`
		VolumeMounts   []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	}
	deployment struct {
		header `yaml:",inline"`
		Spec   struct {
			Replicas int `yaml:"replicas"`
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template struct {
				Metadata meta `yaml:"metadata"`
				Spec     struct {
					TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
					SecurityContext               struct {
						RunAsNonRoot bool `yaml:"runAsNonRoot"`
						RunAsUser    int  `yaml:"runAsUser"`
					} `yaml:"securityContext"`
					Containers []container `yaml:"containers"`
					Volumes    []struct {
						Name     string   `yaml:"name"`
						EmptyDir struct{} `yaml:"emptyDir"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	service struct {
		header `yaml:",inline"`
		Spec   struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name        string `yaml:"name"`
				Port        int    `yaml:"port"`
				TargetPort  any    `yaml:"targetPort"`
				AppProtocol string `yaml:"appProtocol"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	hpa struct {
		header `yaml:",inline"`
		Spec   struct {
			ScaleTargetRef struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Name       string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			MinReplicas int `yaml:"minReplicas"`
			MaxReplicas int `yaml:"maxReplicas"`
			Metrics     []struct {
				Type     string `yaml:"type"`
				Resource struct {
					Name   string `yaml:"name"`
					Target struct {
						Type               string `yaml:"type"`
						AverageUtilization int    `yaml:"averageUtilization"`
					} `yaml:"target"`
				} `yaml:"resource"`
			} `yaml:"metrics"`
			Behavior struct {
				ScaleDown struct {
					StabilizationWindowSeconds int `yaml:"stabilizationWindowSeconds"`
				} `yaml:"scaleDown"`
			} `yaml:"behavior"`
		} `yaml:"spec"`
	}
	servingRuntime struct {
		header `yaml:",inline"`
		Spec   struct {
			Annotations           map[string]string `yaml:"annotations"`
			SupportedModelFormats []struct {
				Name       string `yaml:"name"`
				Version    string `yaml:"version"`
				AutoSelect bool   `yaml:"autoSelect"`
				Priority   int    `yaml:"priority"`
			} `yaml:"supportedModelFormats"`
			ProtocolVersions []string    `yaml:"protocolVersions"`
			Containers       []container `yaml:"containers"`
		} `yaml:"spec"`
	}
	inferenceService struct {
		header `yaml:",inline"`
		Spec   struct {
			Predictor struct {
				MinReplicas int `yaml:"minReplicas"`
				MaxReplicas int `yaml:"maxReplicas"`
				Model       struct {
					Runtime     string `yaml:"runtime"`
					ModelFormat struct {
						Name string `yaml:"name"`
					} `yaml:"modelFormat"`
					ProtocolVersion string    `yaml:"protocolVersion"`
					StorageURI      string    `yaml:"storageUri"`
					Resources       resources `yaml:"resources"`
				} `yaml:"model"`
			} `yaml:"predictor"`
		} `yaml:"spec"`
	}
)

// kinds maps each apiVersion/kind the manifests may use to a new value of
// its type.
var kinds = map[string]func() any{
	"apps/v1/Deployment":                         func() any { return new(deployment) },
	"v1/Service":                                 func() any { return new(service) },
	"autoscaling/v2/HorizontalPodAutoscaler":     func() any { return new(hpa) },
	"serving.kserve.io/v1alpha1/ServingRuntime":  func() any { return new(servingRuntime) },
	"serving.kserve.io/v1beta1/InferenceService": func() any { return new(inferenceService) },
}

// manifests decodes every document of every .yaml file under the deploy
// folder, strictly, into its kind's type.
func manifests(t *testing.T) map[string][]any {
	t.Helper()
	files, err := filepath.Glob("*/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests found: %v", err)
	}
	out := map[string][]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range documents(t, f, data) {
			var h header
			if err := doc.Decode(&h); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			newKind, ok := kinds[h.APIVersion+"/"+h.Kind]
			if !ok {
				t.Fatalf("%s document %d: unknown apiVersion/kind %s/%s", f, i, h.APIVersion, h.Kind)
			}
			if !dnsLabel.MatchString(h.Metadata.Name) {
				t.Errorf("%s: %s name %q is not a DNS-1123 label", f, h.Kind, h.Metadata.Name)
			}
			v := newKind()
			if err := strictDecode(doc, v); err != nil {
				t.Fatalf("%s: %s %s: %v", f, h.Kind, h.Metadata.Name, err)
			}
			out[h.Kind] = append(out[h.Kind], v)
		}
	}
	return out
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// documents splits a YAML stream into its documents.
func documents(t *testing.T, name string, data []byte) []*yaml.Node {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, &n)
	}
}

// strictDecode decodes n into v, refusing fields v's type does not have.
func strictDecode(n *yaml.Node, v any) error {
	data, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}

func TestStrictDecodeRefusesUnknownFields(t *testing.T) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selectr: {}}\n"), &n); err != nil {
		t.Fatal(err)
	}
	if err := strictDecode(&n, new(service)); err == nil || !strings.Contains(err.Error(), "selectr") {
		t.Fatalf("a misspelt field decoded: %v", err)
	}
}

// healthPaths are the Open Inference Protocol's health endpoints.
var healthPaths = []string{"/v2/health/live", "/v2/health/ready"}

func TestKubernetesManifests(t *testing.T) {
	m := manifests(t)
	deps := m["Deployment"]
	if len(deps) == 0 || len(m["Service"]) == 0 || len(m["HorizontalPodAutoscaler"]) == 0 {
		t.Fatalf("want a Deployment, a Service and a HorizontalPodAutoscaler, have %d, %d, %d",
			len(deps), len(m["Service"]), len(m["HorizontalPodAutoscaler"]))
	}
	ports := map[string]int{} // container port name → number, over all Deployments
	for _, v := range deps {
		d := v.(*deployment)
		pod := d.Spec.Template
		for k, want := range d.Spec.Selector.MatchLabels {
			if pod.Metadata.Labels[k] != want {
				t.Errorf("Deployment %s: selector %s=%s does not match the pod template's labels %v", d.Metadata.Name, k, want, pod.Metadata.Labels)
			}
		}
		if len(d.Spec.Selector.MatchLabels) == 0 {
			t.Errorf("Deployment %s: empty selector", d.Metadata.Name)
		}
		if !pod.Spec.SecurityContext.RunAsNonRoot {
			t.Errorf("Deployment %s: not runAsNonRoot", d.Metadata.Name)
		}
		if pod.Spec.TerminationGracePeriodSeconds < 30 {
			t.Errorf("Deployment %s: terminationGracePeriodSeconds %d leaves no time to drain", d.Metadata.Name, pod.Spec.TerminationGracePeriodSeconds)
		}
		volumes := map[string]bool{}
		for _, vol := range pod.Spec.Volumes {
			volumes[vol.Name] = true
		}
		for _, c := range pod.Spec.Containers {
			named := map[string]int{}
			for _, p := range c.Ports {
				named[p.Name] = p.ContainerPort
				ports[p.Name] = p.ContainerPort
			}
			checkListens(t, d.Metadata.Name, c, named)
			for _, pr := range []struct {
				name  string
				probe *probe
				paths []string
			}{
				{"startupProbe", c.StartupProbe, healthPaths[1:]},
				{"readinessProbe", c.ReadinessProbe, healthPaths[1:]},
				{"livenessProbe", c.LivenessProbe, healthPaths[:1]},
			} {
				if pr.probe == nil {
					t.Errorf("Deployment %s: container %s has no %s", d.Metadata.Name, c.Name, pr.name)
					continue
				}
				if !slices.Contains(pr.paths, pr.probe.HTTPGet.Path) {
					t.Errorf("Deployment %s: %s path %q, want one of %v", d.Metadata.Name, pr.name, pr.probe.HTTPGet.Path, pr.paths)
				}
				if p, ok := pr.probe.HTTPGet.Port.(string); !ok || named[p] == 0 {
					t.Errorf("Deployment %s: %s port %v is not a named container port", d.Metadata.Name, pr.name, pr.probe.HTTPGet.Port)
				}
			}
			for _, vm := range c.VolumeMounts {
				if !volumes[vm.Name] {
					t.Errorf("Deployment %s: volume mount %s has no volume", d.Metadata.Name, vm.Name)
				}
			}
			if port := pod.Metadata.Annotations["prometheus.io/port"]; port != fmt.Sprint(named["http"]) {
				t.Errorf("Deployment %s: prometheus.io/port %q, but /metrics is on the http port %d", d.Metadata.Name, port, named["http"])
			}
		}
	}
	for _, v := range m["Service"] {
		s := v.(*service)
		if !selectsAny(s.Spec.Selector, deps) {
			t.Errorf("Service %s: selector %v matches no Deployment's pods", s.Metadata.Name, s.Spec.Selector)
		}
		for _, p := range s.Spec.Ports {
			if name, ok := p.TargetPort.(string); !ok || ports[name] == 0 {
				t.Errorf("Service %s: targetPort %v is not a named container port", s.Metadata.Name, p.TargetPort)
			}
		}
	}
	for _, v := range m["HorizontalPodAutoscaler"] {
		h := v.(*hpa)
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || !slices.ContainsFunc(deps, func(d any) bool { return d.(*deployment).Metadata.Name == ref.Name }) {
			t.Errorf("HorizontalPodAutoscaler %s: scaleTargetRef %+v names no Deployment here", h.Metadata.Name, ref)
		}
		if h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < h.Spec.MinReplicas || len(h.Spec.Metrics) == 0 {
			t.Errorf("HorizontalPodAutoscaler %s: replicas %d..%d, %d metrics", h.Metadata.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas, len(h.Spec.Metrics))
		}
	}
}

// checkListens checks that a container's --http and --grpc flags listen
// on its declared ports of those names (where declared).
func checkListens(t *testing.T, owner string, c container, named map[string]int) {
	t.Helper()
	for _, name := range []string{"http", "grpc"} {
		addr, ok := flagValue(c.Args, name)
		want, declared := named[name]
		if !declared {
			continue
		}
		if !ok || !strings.HasSuffix(addr, fmt.Sprintf(":%d", want)) {
			t.Errorf("%s: container %s declares port %s=%d but listens on --%s=%q", owner, c.Name, name, want, name, addr)
		}
	}
}

// flagValue returns the value of --name=VALUE in args.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// selectsAny reports whether selector matches some Deployment's pod labels.
func selectsAny(selector map[string]string, deps []any) bool {
	for _, v := range deps {
		labels := v.(*deployment).Spec.Template.Metadata.Labels
		ok := len(selector) > 0
		for k, want := range selector {
			ok = ok && labels[k] == want
		}
		if ok {
			return true
		}
	}
	return false
}

func TestKServeManifests(t *testing.T) {
	m := manifests(t)
	runtimes := map[string]*servingRuntime{}
	for _, v := range m["ServingRuntime"] {
		r := v.(*servingRuntime)
		runtimes[r.Metadata.Name] = r
		for _, want := range []string{"v2", "grpc-v2"} {
			if !slices.Contains(r.Spec.ProtocolVersions, want) {
				t.Errorf("ServingRuntime %s: protocolVersions %v lacks %s", r.Metadata.Name, r.Spec.ProtocolVersions, want)
			}
		}
		i := slices.IndexFunc(r.Spec.Containers, func(c container) bool { return c.Name == "kserve-container" })
		if i < 0 {
			t.Fatalf("ServingRuntime %s: no container named kserve-container (KServe's name for the model server)", r.Metadata.Name)
		}
		c := r.Spec.Containers[i]
		named := map[string]int{}
		for _, p := range c.Ports {
			named[p.Name] = p.ContainerPort
		}
		// KServe names the REST port http1 and the gRPC port h2c.
		named["http"], named["grpc"] = named["http1"], named["h2c"]
		delete(named, "http1")
		delete(named, "h2c")
		for k, v := range named {
			if v == 0 {
				delete(named, k)
			}
		}
		checkListens(t, "ServingRuntime "+r.Metadata.Name, c, named)
		if http, _ := flagValue(c.Args, "http"); r.Spec.Annotations["prometheus.kserve.io/port"] == "" || !strings.HasSuffix(http, ":"+r.Spec.Annotations["prometheus.kserve.io/port"]) {
			t.Errorf("ServingRuntime %s: prometheus.kserve.io/port %q is not the --http port %q", r.Metadata.Name, r.Spec.Annotations["prometheus.kserve.io/port"], http)
		}
		model, _ := flagValue(c.Args, "model")
		if !strings.HasPrefix(model, "{{.Name}}=/mnt/models") {
			t.Errorf("ServingRuntime %s: --model=%q should serve the storage initializer's /mnt/models under the InferenceService's name", r.Metadata.Name, model)
		}
	}
	if len(runtimes) == 0 || len(m["InferenceService"]) == 0 {
		t.Fatalf("want a ServingRuntime and an InferenceService, have %d and %d", len(runtimes), len(m["InferenceService"]))
	}
	for _, v := range m["InferenceService"] {
		s := v.(*inferenceService)
		model := s.Spec.Predictor.Model
		r, ok := runtimes[model.Runtime]
		if !ok {
			t.Errorf("InferenceService %s: runtime %q is not defined here", s.Metadata.Name, model.Runtime)
			continue
		}
		if !slices.ContainsFunc(r.Spec.SupportedModelFormats, func(f struct {
			Name       string `yaml:"name"`
			Version    string `yaml:"version"`
			AutoSelect bool   `yaml:"autoSelect"`
			Priority   int    `yaml:"priority"`
		}) bool {
			return f.Name == model.ModelFormat.Name
		}) {
			t.Errorf("InferenceService %s: model format %q is not one runtime %s supports", s.Metadata.Name, model.ModelFormat.Name, r.Metadata.Name)
		}
		if !slices.Contains(r.Spec.ProtocolVersions, model.ProtocolVersion) {
			t.Errorf("InferenceService %s: protocolVersion %q is not one runtime %s speaks", s.Metadata.Name, model.ProtocolVersion, r.Metadata.Name)
		}
		if model.StorageURI == "" {
			t.Errorf("InferenceService %s: no storageUri", s.Metadata.Name)
		}
	}
}

// TestDockerfile checks the image's build: a build stage and a runtime
// stage that copies from it, the Vulkan loader and Mesa in the runtime
// image, the server's ports, a non-root user.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages []string // stage names in order
	var last []string   // the instructions of the last stage, joined continuation lines
	var line string
	for _, raw := range strings.Split(string(data), "\n") {
		raw = strings.TrimSpace(raw)
		if raw == "" || strings.HasPrefix(raw, "#") {
			continue
		}
		if l, ok := strings.CutSuffix(raw, "\\"); ok {
			line += l + " "
			continue
		}
		line += raw
		f := strings.Fields(line)
		if strings.EqualFold(f[0], "FROM") {
			name := ""
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				name = f[3]
			}
			stages = append(stages, name)
			last = nil
		}
		if strings.EqualFold(f[0], "COPY") && len(f) > 1 {
			if from, ok := strings.CutPrefix(f[1], "--from="); ok && !slices.Contains(stages[:len(stages)-1], from) {
				t.Errorf("COPY --from=%s: no earlier stage of that name (stages %v)", from, stages)
			}
		}
		last = append(last, line)
		line = ""
	}
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, have stages %v", stages)
	}
	runtime := strings.Join(last, "\n")
	for _, want := range []string{"libvulkan1", "mesa-vulkan-drivers", "ca-certificates", "EXPOSE 8000 8001", `"serve"`} {
		if !strings.Contains(runtime, want) {
			t.Errorf("the runtime stage lacks %q", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(runtime)
	if user == nil || user[1] == "root" || user[1] == "0" {
		t.Errorf("the runtime stage runs as root (USER %v)", user)
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The server's arguments in deploy/'s manifests are ones serve accepts:
// each container running the image is parsed with serve's own flags (the
// deploy package's test checks the manifests' structure).
func TestDeployArgs(t *testing.T) {
	files, err := filepath.Glob("../../deploy/*/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	found := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				break
			}
			for _, args := range containerArgs(doc) {
				found++
				// KServe fills in the InferenceService's name.
				args = strings.Fields(strings.ReplaceAll(strings.Join(args, " "), "{{.Name}}", "resnet50"))
				if _, err := parseServe(args); err != nil {
					t.Errorf("%s: serve %q: %v", f, args, err)
				}
			}
		}
	}
	if found < 2 {
		t.Fatalf("found the arguments of %d containers, want the Deployment's and the ServingRuntime's", found)
	}
	if _, err := parseServe([]string{"--max-batch=0"}); err == nil {
		t.Fatal("parseServe accepted --max-batch=0")
	}
}

// containerArgs returns the args of every container anywhere in a
// decoded manifest.
func containerArgs(v any) [][]string {
	var out [][]string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "containers" {
				for _, c := range x.([]any) {
					var args []string
					for _, a := range c.(map[string]any)["args"].([]any) {
						args = append(args, a.(string))
					}
					out = append(out, args)
				}
				continue
			}
			out = append(out, containerArgs(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, containerArgs(x)...)
		}
	}
	return out
}

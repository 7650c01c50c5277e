package gpu

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// module is the project's module path.
const module = "github.com/resnet-gpu/resnet-gpu"

// goFile is one Go file of the module and what it imports.
type goFile struct {
	rel     string // slash-separated path from the module root
	imports []string
}

// moduleFiles returns every Go file of the module, test files included,
// skipping testdata and dot directories.
func moduleFiles(t *testing.T) []goFile {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var files []goFile
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		g := goFile{rel: filepath.ToSlash(rel)}
		for _, imp := range f.Imports {
			s, _ := strconv.Unquote(imp.Path.Value)
			g.imports = append(g.imports, s)
		}
		files = append(files, g)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("only %d Go files found under %s", len(files), root)
	}
	return files
}

// Only package gpu may import the WebGPU binding.
func TestImportBoundary(t *testing.T) {
	const binding = "github.com/rajveermalviya/go-webgpu"
	for _, f := range moduleFiles(t) {
		for _, p := range f.imports {
			if strings.HasPrefix(p, binding) && path.Dir(f.rel) != "gpu" {
				t.Errorf("%s imports %s: only gpu/ may", f.rel, p)
			}
		}
	}
}

// layers are the project's layers, lowest first, each the name of its
// top-level directory: a package may import project packages of its own
// layer and lower ones.
var layers = []struct{ name, dir string }{
	{"gpu", "gpu"},
	{"shaders", "shaders"},
	{"graph", "graph"},
	{"models", "resnet"},
	{"cmd", "cmd"},
	{"deploy", "deploy"}, // the manifests' checks
}

// testImports lets the test files of a layer import these higher layers
// too: the shaders and graph tests take their cases from graph's op
// tables and the models' layer shapes.
var testImports = map[string][]string{
	"shaders": {"graph", "models"},
	"graph":   {"models"},
}

// skipImports are lower layers that a layer's non-test files still may not
// import: models speak graph, and device work belongs to graph/gpuexec.
var skipImports = map[string][]string{
	"models": {"gpu", "shaders"},
}

// layerOf returns the index in layers of the slash-separated path p (a
// file's path from the module root, or a package's directory), or -1.
func layerOf(p string) int {
	top, _, _ := strings.Cut(p, "/")
	return slices.IndexFunc(layers, func(l struct{ name, dir string }) bool { return l.dir == top })
}

// layerRule returns why file (its slash-separated path from the module
// root) may not import pkg, in the form "LAYER may not import LAYER", or ""
// if it may: pkg is outside the module or the layering allows it.
func layerRule(file, pkg string) string {
	if pkg != module && !strings.HasPrefix(pkg, module+"/") {
		return ""
	}
	from, to := layerOf(path.Dir(file)), layerOf(strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/"))
	switch {
	case from < 0:
		return "a file outside the layers may not import project packages"
	case to < 0:
		return fmt.Sprintf("%s may not import a package outside the layers", layers[from].name)
	}
	f, g := layers[from].name, layers[to].name
	test := strings.HasSuffix(file, "_test.go")
	switch {
	case to > from && !(test && slices.Contains(testImports[f], g)):
		return fmt.Sprintf("%s may not import %s", f, g)
	case !test && slices.Contains(skipImports[f], g):
		return fmt.Sprintf("%s may not import %s", f, g)
	}
	return ""
}

// Project packages import only from their own layer and lower ones (see
// layers, testImports and skipImports).
func TestLayers(t *testing.T) {
	for _, f := range moduleFiles(t) {
		if layerOf(f.rel) < 0 && path.Dir(f.rel) != "." {
			t.Errorf("%s is in no layer: add its directory to layers", f.rel)
		}
		for _, p := range f.imports {
			why := layerRule(f.rel, p)
			if why == "" {
				continue
			}
			t.Errorf("%s imports %s: %s", f.rel, p, why)
		}
	}
}

func TestLayerRule(t *testing.T) {
	for _, c := range []struct {
		file, pkg string
		ok        bool
	}{
		{"gpu/device.go", "github.com/rajveermalviya/go-webgpu/wgpu", true},
		{"gpu/device.go", "fmt", true},
		{"gpu/gputest/gputest.go", module + "/gpu", true},
		{"gpu/gpu_test.go", module + "/gpu/gputest", true},
		{"gpu/gpu_test.go", module + "/shaders", false},
		{"gpu/device.go", module + "/graph", false},
		{"shaders/conv2d.go", module + "/gpu", true},
		{"shaders/conv2d.go", module + "/graph", false},
		{"shaders/conv2d_test.go", module + "/graph", true},
		{"shaders/conv2d_test.go", module + "/resnet", true},
		{"shaders/conv2d_test.go", module + "/cmd/resnet-gpu", false},
		{"graph/gpuexec/gpuexec.go", module + "/shaders", true},
		{"graph/gpuexec/gpuexec.go", module + "/gpu", true},
		{"graph/plan.go", module + "/resnet", false},
		{"graph/opcheck/opcheck_test.go", module + "/resnet", true},
		{"resnet/model.go", module + "/graph/gpuexec", true},
		{"resnet/model.go", module + "/gpu", false},
		{"resnet/model.go", module + "/shaders", false},
		{"resnet/plan_test.go", module + "/gpu/gputest", true},
		{"resnet/hub/fetch.go", module + "/resnet/imagenet", true},
		{"resnet/model.go", module + "/cmd/resnet-gpu", false},
		{"cmd/resnet-gpu/main.go", module + "/gpu", true},
		{"cmd/resnet-gpu/main.go", module + "/resnet", true},
		{"tools/x.go", module + "/gpu", false},
		{"gpu/device.go", module + "/tools", false},
	} {
		why := layerRule(c.file, c.pkg)
		if (why == "") != c.ok {
			t.Errorf("layerRule(%s, %s) = %q, want allowed = %v", c.file, c.pkg, why, c.ok)
		}
	}
}

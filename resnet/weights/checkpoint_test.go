package weights

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nlpodyssey/gopickle/types"
)

// checkpointFile is one entry of testdata/pth/checkpoints.json.
type checkpointFile struct {
	Format  string               `json:"format"`
	Layout  string               `json:"layout"`
	Want    string               `json:"want"`
	Keys    [][3]json.RawMessage `json:"keys"`
	First   map[string][]float64 `json:"first"`
	Class   string               `json:"class"`
	Under   string               `json:"under"`
	TopKeys []string             `json:"top_keys"`
}

// checkpointFiles reads testdata/pth/checkpoints.json: the files that
// make_checkpoints.py wrote, by name.
func checkpointFiles(t testing.TB) map[string]checkpointFile {
	t.Helper()
	b, err := os.ReadFile(testdata + "pth/checkpoints.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Files map[string]checkpointFile `json:"files"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Files) == 0 {
		t.Fatal("checkpoints.json lists no files")
	}
	return doc.Files
}

// sortedNames returns the file names of checkpoints.json in sorted order.
func sortedNames(files map[string]checkpointFile) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Every real torch.save checkpoint layout loads to torchvision's names with
// the synthetic-v1 values, or is refused with the error that says why.
func TestLoadCheckpoints(t *testing.T) {
	files := checkpointFiles(t)
	for _, name := range sortedNames(files) {
		f := files[name]
		t.Run(name, func(t *testing.T) {
			sd, err := LoadFile(testdata + "pth/" + name)
			if f.Want != "state_dict" {
				checkRefusal(t, name, f, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			specs := specsOf(t, f.Keys)
			if err := sd.Check(specs); err != nil {
				t.Error(err)
			}
			if len(sd) != len(specs) {
				t.Errorf("%d entries, want %d", len(sd), len(specs))
			}
			want := Synthetic(specs, 0)
			for _, s := range specs {
				g := sd[s.Name]
				if g == nil {
					continue // Check reported it
				}
				if !slices.Equal(g.Int, want[s.Name].Int) {
					t.Errorf("%s = %v, want %v", s.Name, g.Int, want[s.Name].Int)
				}
				if i := firstBitDiff(g.Data, want[s.Name].Data); i >= 0 {
					t.Errorf("%s differs from Synthetic first at %d", s.Name, i)
				}
				for i, v := range f.First[s.Name] {
					got := float64(0)
					if g.IsInt() {
						got = float64(g.Int[i])
					} else {
						got = float64(g.Data[i])
					}
					if got != v {
						t.Errorf("%s[%d] = %g, PyTorch has %g", s.Name, i, got, v)
					}
				}
			}
		})
	}
}

// checkRefusal checks the error of a file that holds no single state_dict.
func checkRefusal(t *testing.T, name string, f checkpointFile, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s (%s) loads, want an error", name, f.Layout)
	}
	msg := err.Error()
	t.Log(msg)
	var want []string
	switch f.Want {
	case "module":
		where := ""
		if f.Under != "" {
			where = fmt.Sprintf(" under %q", f.Under)
		}
		want = []string{fmt.Sprintf("weights: %s%s holds a pickled torch module (%s)%s, not a state_dict; "+
			"save one with torch.save(model.state_dict(), PATH)", testdata, "pth/"+name, f.Class, where)}
	case "ambiguous":
		want = []string{fmt.Sprintf("holds %d state_dicts", len(f.TopKeys))}
		for _, k := range f.TopKeys {
			want = append(want, fmt.Sprintf("%q", k))
		}
	case "none":
		want = []string{"holds no state_dict"}
		for _, k := range f.TopKeys {
			want = append(want, fmt.Sprintf("%q", k))
		}
	default:
		t.Fatalf("checkpoints.json: unknown want %q", f.Want)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
	if strings.Contains(msg, "corrupt") {
		t.Errorf("error %q calls a well-formed file corrupt", msg)
	}
}

func TestCanonicalNames(t *testing.T) {
	for _, c := range []struct {
		in, want []string
		err      string
	}{
		{in: []string{"module.conv1.weight", "module.fc.bias"}, want: []string{"conv1.weight", "fc.bias"}},
		{in: []string{"model.conv1.weight", "model.fc.bias"}, want: []string{"conv1.weight", "fc.bias"}},
		{in: []string{"module.model.conv1.weight", "module.model.fc.bias"}, want: []string{"conv1.weight", "fc.bias"}},
		// Not every entry has the prefix: nothing is stripped.
		{in: []string{"module.conv1.weight", "fc.bias"}, want: []string{"module.conv1.weight", "fc.bias"}},
		{in: []string{"model.x", "model."}, want: []string{"model.x", "model."}},
		{in: []string{"modules.a", "modules.b"}, want: []string{"modules.a", "modules.b"}},
		{in: []string{
			"features.denseblock1.denselayer1.norm.1.weight",
			"features.denseblock4.denselayer16.conv.2.weight",
			"module.features.denseblock2.denselayer3.norm.2.running_var", // the prefix is not common
			"features.denseblock1.denselayer1.relu.1.bias",
			"features.denseblock1.denselayer1.norm.1.num_batches_tracked", // not in the regex
			"features.denseblock1.denselayer1.norm.3.weight",
			"features.denseblock1.denselayer.norm.1.weight",
			"features.denseblock1.denselayer١.norm.1.bias", // Python's \d: any decimal digit
			"features.transition1.norm.weight",
			"x.denselayer2.conv.1.weight\n",
		}, want: []string{
			"features.denseblock1.denselayer1.norm1.weight",
			"features.denseblock4.denselayer16.conv2.weight",
			"module.features.denseblock2.denselayer3.norm2.running_var",
			"features.denseblock1.denselayer1.relu1.bias",
			"features.denseblock1.denselayer1.norm.1.num_batches_tracked",
			"features.denseblock1.denselayer1.norm.3.weight",
			"features.denseblock1.denselayer.norm.1.weight",
			"features.denseblock1.denselayer١.norm1.bias",
			"features.transition1.norm.weight",
			"x.denselayer2.conv1.weight",
		}},
		{in: []string{"a.denselayer1.norm.1.weight", "a.denselayer1.norm1.weight"},
			err: "entries a.denselayer1.norm.1.weight and a.denselayer1.norm1.weight both name a.denselayer1.norm1.weight"},
	} {
		entries := make([]namedTensor, len(c.in))
		for i, n := range c.in {
			entries[i] = namedTensor{name: n}
		}
		out, err := canonical(entries)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("canonical(%q) = %v, want error %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("canonical(%q): %v", c.in, err)
			continue
		}
		var got []string
		for _, e := range out {
			got = append(got, e.name)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("canonical(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// dict makes an unpickled dict of the key/value pairs.
func dict(kv ...any) *types.Dict {
	d := types.NewDict()
	for i := 0; i < len(kv); i += 2 {
		d.Set(kv[i], kv[i+1])
	}
	return d
}

func TestFindStateDict(t *testing.T) {
	x, y := &tensorRef{}, &tensorRef{}
	module := &opaque{"torchvision.models.resnet", "ResNet", true}
	config := dict("arch", "resnet50")
	for _, c := range []struct {
		name string
		obj  any
		want []string // entry names, or nil for an error
		err  string
	}{
		{"bare", dict("a", x, "b", y), []string{"a", "b"}, ""},
		{"empty", dict(), []string{}, ""},
		{"wrapped", dict("epoch", 3, "model_state_dict", dict("a", x)), []string{"a"}, ""},
		{"config beside", dict("model", config, "state_dict", dict("a", x)), []string{"a"}, ""},
		{"module beside", dict("model", module, "state_dict", dict("a", x)), []string{"a"}, ""},
		{"tensor named model", dict("model", x, "b", y), []string{"model", "b"}, ""},
		{"two", dict("model", dict("a", x), "state_dict", dict("b", y)), nil,
			`holds 2 state_dicts, under "model" and "state_dict"; its top-level keys are "model", "state_dict"`},
		{"none", dict("epoch", 3, "optimizer", dict("state", dict())), nil,
			`holds no state_dict: a dict of keys "epoch", "optimizer" with no tensors, none under "state_dict", "model" or "model_state_dict"`},
		{"module", module, nil, "holds a pickled torch module (torchvision.models.resnet.ResNet), not a state_dict; " +
			"save one with torch.save(model.state_dict(), PATH)"},
		{"wrapped module", dict("model", module, "epoch", 1), nil, `holds a pickled torch module (torchvision.models.resnet.ResNet) under "model", not a state_dict`},
		{"list", types.NewList(), nil, "holds a list, not a state_dict"},
		{"not a tensor", dict("a", x, "b", 2), nil, "state_dict entry b is 2, not a tensor"},
		{"wrapped not a tensor", dict("state_dict", dict("a", x, "b", "s")), nil, `state_dict entry b is "s", not a tensor`},
	} {
		got, err := stateDict(c.obj)
		if c.want == nil {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want an error containing %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		names := []string{}
		for _, e := range got {
			names = append(names, e.name)
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("%s: entries %q, want %q", c.name, names, c.want)
		}
	}
}

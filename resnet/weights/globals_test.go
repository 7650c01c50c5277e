package weights

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// oneTensor is a tensor of the storage sixFloats.
var oneTensor = fakeTensor{name: "w", key: "0", storageNumel: 6, shape: []int64{6}, stride: []int64{1}}

// checkpointPickle pickles {"state_dict": {name: tensor}, key: value} for
// each tensor, where value is pickle text.
func checkpointPickle(ts []fakeTensor, key, value string, legacy bool) []byte {
	var p pickler
	p.WriteString("\x80\x02}(")
	p.str("state_dict")
	p.WriteString("}(")
	for _, t := range ts {
		p.str(t.name)
		p.tensor(t, legacy)
	}
	p.WriteString("u")
	if key != "" {
		p.str(key)
		p.WriteString(value)
	}
	p.WriteString("u.")
	return p.Bytes()
}

// bothFormats makes a zip and a legacy file of a pickle made for each
// format, with the storage sixFloats.
func bothFormats(t *testing.T, pickle func(legacy bool) []byte) map[string][]byte {
	return map[string][]byte{
		"zip":    zipArchive(t, [2]string{"a/data.pkl", string(pickle(false))}, [2]string{"a/data/0", string(sixFloats.data)}),
		"legacy": legacyFile(pickle(true), sixFloats),
	}
}

func TestLoadRefusesGlobals(t *testing.T) {
	const system = "cos\nsystem\n(X\x04\x00\x00\x00truetR"
	entry := func(key, value string) func(bool) []byte {
		return func(legacy bool) []byte { return checkpointPickle([]fakeTensor{oneTensor}, key, value, legacy) }
	}
	tensorWith := func(f func(*fakeTensor)) func(bool) []byte {
		ft := oneTensor
		f(&ft)
		return func(legacy bool) []byte { return checkpointPickle([]fakeTensor{ft}, "", "", legacy) }
	}
	cases := []struct {
		name, global string
		pickle       func(legacy bool) []byte
	}{
		{"in the optimizer entry", "os.system", entry("optimizer", system)},
		{"in a hooks entry", "builtins.eval", entry("hooks", "c__builtin__\neval\n(X\x01\x00\x00\x001tR")},
		{"as requires_grad", "os.system", tensorWith(func(f *fakeTensor) { f.requiresGrad = system })},
		{"as backward hooks", "posix.system", tensorWith(func(f *fakeTensor) { f.hooks = "cposix\nsystem\n" })},
		{"in an OrderedDict's BUILD state", "os.system", func(legacy bool) []byte {
			b := stateDictPickle([]fakeTensor{oneTensor}, legacy)
			return append(b[:len(b)-1], "}(X\x09\x00\x00\x00_metadata"+system+"ub."...)
		}},
		{"by INST", "os.system", entry("x", "(X\x04\x00\x00\x00trueios\nsystem\n")},
		{"by OBJ", "subprocess.call", entry("x", "(csubprocess\ncall\nX\x04\x00\x00\x00trueo")},
		{"by NEWOBJ", "builtins.object", entry("x", "cbuiltins\nobject\n)\x81")},
		{"by STACK_GLOBAL", "os.system", entry("x", "\x8c\x02os\x8c\x06system\x93X\x04\x00\x00\x00true\x85R")},
		{"by STACK_GLOBAL from the memo", "os.system", entry("x", "\x8c\x02os\x94\x30h\x00\x8c\x06system\x93")},
		// gopickle resolves these two itself, without asking findClass.
		{"__builtin__.object", "builtins.object", entry("x", "c__builtin__\nobject\n")},
		{"__builtin__.object by STACK_GLOBAL", "builtins.object", entry("x", "\x8c\x0b__builtin__\x8c\x06object\x93")},
		{"copy_reg._reconstructor", "copyreg._reconstructor", entry("x", "ccopy_reg\n_reconstructor\n")},
		{"a pickled module beside the state_dict", "torchvision.models.resnet.ResNet", entry("model", "ctorchvision.models.resnet\nResNet\n)\x81}b")},
	}
	for _, c := range cases {
		for format, b := range bothFormats(t, c.pickle) {
			_, err := loadBytes(t, b)
			want := ": the pickle calls " + c.global + ", which a weights file never needs (torch.load(weights_only=True) refuses it too)"
			if err == nil || !strings.HasSuffix(err.Error(), want) || !strings.HasPrefix(err.Error(), "weights: ") {
				t.Errorf("%s (%s): %v, want an error ending %q", c.name, format, err, want)
			}
		}
	}
}

func TestLoadAllowedGlobals(t *testing.T) {
	// What training checkpoints hold beside their state_dict: optimizer
	// state with tensors, sizes, devices, sets, bytes, Counters; and a
	// state_dict whose tensors are Parameters.
	param := "ctorch._utils\n_rebuild_parameter\n(" // then a tensor, requires_grad, hooks
	values := strings.Join([]string{
		"ctorch\nSize\n((K\x02K\x03ttR",
		"ctorch\ndevice\n(X\x03\x00\x00\x00cputR",
		"c__builtin__\nset\n((K\x01K\x02ltR",
		"c_codecs\nencode\n(X\x02\x00\x00\x00hiX\x06\x00\x00\x00latin1tR",
		"ccollections\nCounter\n)R",
		"ctorch\nfloat16\n",
	}, "")
	for format, b := range bothFormats(t, func(legacy bool) []byte {
		var p pickler
		p.tensor(fakeTensor{name: "m", key: "0", storageNumel: 6, shape: []int64{2}, stride: []int64{1}}, legacy)
		optimizer := "}(X\x05\x00\x00\x00state" + p.String() + "X\x06\x00\x00\x00things(" + values + "lu"
		b := checkpointPickle(nil, "optimizer", optimizer, legacy)
		p.Reset()
		p.str("w")
		p.WriteString(param)
		p.tensor(oneTensor, legacy)
		p.WriteString("\x88ccollections\nOrderedDict\n)RtR")
		return bytes.Replace(b, []byte("\x00state_dict}("), append([]byte("\x00state_dict}("), p.Bytes()...), 1)
	}) {
		sd, err := loadBytes(t, b)
		if err != nil {
			t.Errorf("%s: %v", format, err)
			continue
		}
		if w := sd["w"]; len(sd) != 1 || w == nil || !slices.Equal(w.Data, []float32{0, 1, 2, 3, 4, 5}) {
			t.Errorf("%s: loads %v", format, sd)
		}
	}
}

// protocol4 is a state_dict of a tensor w of the storage sixFloats, as
// pickle protocol 4 writes it: globals by STACK_GLOBAL, from strings it
// memoizes and fetches again.
const protocol4 = "\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00" + // an empty FRAME
	"\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94(" +
	"\x8c\x01w\x8c\x0ctorch._utils\x94\x8c\x12_rebuild_tensor_v2\x94\x93\x94(" +
	"(\x8c\x07storage\x8c\x05torch\x94\x8c\x0cFloatStorage\x94\x93\x8c\x010\x8c\x03cpuK\x06t\x94Q" +
	"K\x00K\x06\x85K\x01\x85\x89h\x00h\x01\x93)Rt\x94Ru."

func TestLoadProtocol4(t *testing.T) {
	sd, err := loadBytes(t, zipArchive(t, [2]string{"a/data.pkl", protocol4}, [2]string{"a/data/0", string(sixFloats.data)}))
	if err != nil {
		t.Fatal(err)
	}
	if w := sd["w"]; w == nil || !slices.Equal(w.Data, []float32{0, 1, 2, 3, 4, 5}) {
		t.Errorf("loads %v", sd)
	}
}

func TestGlobalName(t *testing.T) {
	var refused *refusedGlobal
	for _, c := range []struct{ module, name, want string }{
		{"__builtin__", "set", ""},
		{"builtins", "set", ""},
		{"torch._utils", "_rebuild_tensor_v2", ""},
		{"torch", "BFloat16Storage", ""},
		{"torch.cuda", "FloatStorage", ""},
		{"torch", "uint3", ""},
		{"__builtin__", "getattr", "builtins.getattr"},
		{"torch", "load", "torch.load"},
		{"torch._utils", "_rebuild_tensor_v9", "torch._utils._rebuild_tensor_v9"},
		{"os\x1b[2J", "\xff", `"os\x1b[2J.\xff"`},
	} {
		p := newUnpickler(false)
		p.checkGlobal(c.module, c.name)
		p.checkGlobal("os", "system") // only the first is recorded
		_, err := p.stateDict(dict())
		if c.want == "" {
			c.want = "os.system"
		}
		if !errors.As(err, &refused) || refused.name != c.want {
			t.Errorf("%s.%s: %v, want %s refused", c.module, c.name, err, c.want)
		}
	}
}

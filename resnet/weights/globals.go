package weights

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// allowedGlobals are the classes and functions that a pickle may name: those
// of torch.load(weights_only=True), from torch/_weights_only_unpickler.py's
// _get_allowed_globals (torch 2.x). Every other global is refused wherever
// it appears, as torch refuses it: a weights file never needs one.
var allowedGlobals = func() map[string]bool {
	allowed := map[string]bool{}
	add := func(prefix string, names ...string) {
		for _, n := range names {
			allowed[prefix+n] = true
		}
	}
	add("", "collections.OrderedDict", "collections.Counter", "torch.nn.parameter.Parameter",
		"torch.serialization._get_layout", "torch.Size", "torch.Tensor", "torch.device",
		"_codecs.encode", "builtins.bytearray", "builtins.set", "builtins.complex",
		"torch._tensor._rebuild_from_type_v2")
	// dtypes
	add("torch.", "float64", "float32", "float16", "bfloat16", "complex128", "complex64", "complex32",
		"int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8", "bool",
		"qint8", "quint8", "qint32", "quint4x2", "quint2x4",
		"float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
		"bits8", "bits16", "bits1x8", "bits2x4", "bits4x2")
	for i := 1; i < 8; i++ {
		add("torch.", fmt.Sprintf("int%d", i), fmt.Sprintf("uint%d", i))
	}
	// torch._tensor_classes
	kinds := []string{"Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool"}
	for _, module := range []string{"torch.", "torch.cuda.", "torch.sparse.", "torch.cuda.sparse."} {
		for _, k := range kinds {
			add(module, k+"Tensor")
		}
	}
	// torch._storage_classes
	for _, module := range []string{"torch.", "torch.cuda."} {
		for _, k := range append(kinds, "ComplexDouble", "ComplexFloat") {
			add(module, k+"Storage")
		}
		add(module, "UntypedStorage")
	}
	add("torch.", "QUInt8Storage", "QInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage")
	add("torch.storage.", "TypedStorage", "UntypedStorage")
	// quantization schemes
	add("torch.", "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
		"per_channel_symmetric", "per_channel_affine_float_qparams")
	// tensor rebuild functions
	add("torch._utils._rebuild_", "parameter", "parameter_with_state", "qtensor", "tensor", "tensor_v2",
		"tensor_v3", "sparse_tensor", "meta_tensor_no_storage", "wrapper_subclass",
		"device_tensor_from_numpy", "device_tensor_from_cpu_tensor")
	return allowed
}()

// globalName is the full name of a pickled global, with Python 2's module
// names (which protocol-2 pickles use) mapped to Python 3's, as torch does.
func globalName(module, name string) string {
	switch module {
	case "__builtin__":
		module = "builtins"
	case "copy_reg":
		module = "copyreg"
	}
	return module + "." + name
}

// refusedGlobal reports a pickle that names a global outside
// allowedGlobals.
type refusedGlobal struct{ name string }

func (e *refusedGlobal) Error() string {
	return fmt.Sprintf("the pickle calls %s, which a weights file never needs (torch.load(weights_only=True) refuses it too)", e.name)
}

// checkGlobal records the first global outside allowedGlobals that the
// pickles name, quoted if it is not plain text.
func (p *unpickler) checkGlobal(module, name string) {
	full := globalName(module, name)
	if allowedGlobals[full] || p.refused != "" {
		return
	}
	if len(full) > 200 {
		full = full[:200] + "..."
	}
	if !utf8.ValidString(full) || strings.IndexFunc(full, func(r rune) bool { return !unicode.IsGraphic(r) }) >= 0 {
		full = strconv.Quote(full)
	}
	p.refused = full
}

package weights

import (
	"bytes"
	"fmt"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// unpickler turns the pickles of a torch.save file into Go values with
// gopickle, representing tensors as tensorRefs over lazily read storages.
type unpickler struct {
	legacy   bool                // storage ids carry legacy view metadata
	storages map[string]*storage // by key
	views    map[string]*view    // legacy storage views, by view key
	objects  int                 // opcodes scanned, in all the file's pickles
	cost     int                 // estimated unpickling memory, in all the file's pickles
	refused  string              // the first global named outside allowedGlobals
}

// newUnpickler returns an unpickler for the zip format, or with legacy set
// for the legacy format.
func newUnpickler(legacy bool) *unpickler {
	return &unpickler{legacy: legacy, storages: map[string]*storage{}, views: map[string]*view{}}
}

// load unpickles the pickle at the start of b and returns its value and
// length. Only a pickle that scan accepts reaches gopickle, and a panic in
// gopickle becomes an error wrapping errInternal.
func (p *unpickler) load(b []byte) (v any, n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, n, err = nil, 0, fmt.Errorf("unpickle: gopickle panicked: %w: %v", errInternal, r)
		}
	}()
	objects, cost := p.objects, p.cost
	n, err = p.scan(b)
	if err != nil {
		p.objects, p.cost = objects, cost // so that a longer b can be scanned again
		return nil, 0, err
	}
	u := pickle.NewUnpickler(bytes.NewReader(b[:n]))
	u.FindClass = p.findClass
	u.PersistentLoad = p.persistentLoad
	v, err = u.Load()
	if err != nil {
		return nil, 0, fmt.Errorf("unpickle: %w", err)
	}
	return v, n, nil
}

// storageClass is a torch storage class such as torch.FloatStorage.
type storageClass struct{ dt dtype }

// rebuildTensor is torch._utils._rebuild_tensor_v2 (or, with v1 set, the
// older _rebuild_tensor).
type rebuildTensor struct{ v1 bool }

// rebuildParameter is torch._utils._rebuild_parameter: an nn.Parameter
// loads as its tensor.
type rebuildParameter struct{}

// opaque is any other class or function: calling it, or creating and
// building an instance, gives an opaque value that is only an error if it
// ends up where a tensor is wanted, or if allowedGlobals lacks it.
type opaque struct {
	module, name string
	instance     bool // an instance of the class, not the class or function itself
}

// Call returns o: the result of calling an unknown function is opaque too.
func (o *opaque) Call(...any) (any, error) { return o, nil }

// PyNew returns a new instance of an unknown class.
func (o *opaque) PyNew(...any) (any, error) { return &opaque{o.module, o.name, true}, nil }

// PySetState ignores the state of an instance of an unknown class.
func (o *opaque) PySetState(any) error { return nil }

// findClass resolves the classes and functions a pickle names, and records
// any that allowedGlobals lacks.
func (p *unpickler) findClass(module, name string) (any, error) {
	p.checkGlobal(module, name)
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2":
		return &rebuildTensor{}, nil
	case "torch._utils._rebuild_tensor":
		return &rebuildTensor{v1: true}, nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		return &rebuildParameter{}, nil
	}
	if dt, ok := storageTypes[name]; ok && module == "torch" {
		return &storageClass{dt}, nil
	}
	return &opaque{module: module, name: name}, nil
}

// Call builds a tensorRef from (storage, storage_offset, size, stride, ...).
func (r *rebuildTensor) Call(args ...any) (any, error) {
	if len(args) < 4 || (!r.v1 && len(args) < 6) || len(args) > 7 {
		return nil, fmt.Errorf("_rebuild_tensor with %d arguments", len(args))
	}
	src, ok := args[0].(*view)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor of %s, not a storage", describe(args[0]))
	}
	offset, ok := args[1].(int)
	if !ok {
		return nil, fmt.Errorf("storage offset is %s", describe(args[1]))
	}
	shape, err := ints(args[2])
	if err != nil {
		return nil, fmt.Errorf("tensor size: %w", err)
	}
	stride, err := ints(args[3])
	if err != nil {
		return nil, fmt.Errorf("tensor stride: %w", err)
	}
	return newTensorRef(src, offset, shape, stride)
}

// Call returns the parameter's tensor.
func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("_rebuild_parameter without arguments")
	}
	return args[0], nil
}

// persistentLoad resolves a storage id: ("storage", class, key, location,
// numel), with a sixth entry, the view metadata, in the legacy format.
func (p *unpickler) persistentLoad(id any) (any, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() == 0 {
		return nil, fmt.Errorf("persistent id %s", describe(id))
	}
	if kind, _ := t.Get(0).(string); kind == "module" && p.legacy {
		// ("module", class, source file, source): a pickled nn.Module's class.
		if t.Len() > 1 {
			if class, ok := t.Get(1).(*opaque); ok {
				return class, nil
			}
		}
		return &opaque{module: "torch.nn", name: "Module"}, nil
	} else if kind != "storage" {
		return nil, fmt.Errorf("persistent id of kind %s", describe(t.Get(0)))
	}
	if want := 5 + btoi(p.legacy); t.Len() != want {
		return nil, fmt.Errorf("storage id of %d entries, want %d", t.Len(), want)
	}
	class, ok := t.Get(1).(*storageClass)
	if !ok {
		return nil, fmt.Errorf("unsupported storage type %s", describe(t.Get(1)))
	}
	key, ok1 := t.Get(2).(string)
	numel, ok2 := t.Get(4).(int)
	if !ok1 || !ok2 || numel < 0 || numel > maxStorageBytes/class.dt.size {
		return nil, fmt.Errorf("storage id (%s, %s)", describe(t.Get(2)), describe(t.Get(4)))
	}
	s := p.storages[key]
	if s == nil {
		s = &storage{key: key, dt: class.dt, numel: numel}
		p.storages[key] = s
	} else if s.dt != class.dt || s.numel != numel {
		return nil, fmt.Errorf("storage %s is both %s[%d] and %s[%d]", key, s.dt.name, s.numel, class.dt.name, numel)
	}
	if !p.legacy || t.Get(5) == nil {
		return &view{root: s, numel: s.numel}, nil
	}
	return p.legacyView(s, t.Get(5))
}

// btoi is 1 for true and 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// legacyView resolves legacy view metadata (view_key, offset, view_size).
func (p *unpickler) legacyView(s *storage, meta any) (*view, error) {
	m, ok := meta.(*types.Tuple)
	if !ok || m.Len() != 3 {
		return nil, fmt.Errorf("storage view metadata %s", describe(meta))
	}
	key, ok1 := m.Get(0).(string)
	offset, ok2 := m.Get(1).(int)
	size, ok3 := m.Get(2).(int)
	if !ok1 || !ok2 || !ok3 || offset < 0 || size < 0 || offset > s.numel || size > s.numel-offset {
		return nil, fmt.Errorf("storage view %s of a storage of %d elements", describe(meta), s.numel)
	}
	if v := p.views[key]; v != nil {
		return v, nil
	}
	v := &view{root: s, offset: offset, numel: size}
	p.views[key] = v
	return v, nil
}

// ints converts a pickled tuple of ints.
func ints(v any) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%s, not a tuple", describe(v))
	}
	if t.Len() > maxDims {
		return nil, fmt.Errorf("%d dimensions", t.Len())
	}
	out := make([]int, t.Len())
	for i := range out {
		n, ok := t.Get(i).(int)
		if !ok {
			return nil, fmt.Errorf("%s, not an int", describe(t.Get(i)))
		}
		out[i] = n
	}
	return out, nil
}

// describe names the type of an unpickled value for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("%q", v)
	case int:
		return fmt.Sprint(v)
	case *opaque:
		return v.module + "." + v.name
	case *storageClass:
		return "torch storage " + v.dt.name
	case *view:
		return "a storage"
	case *tensorRef:
		return "a tensor"
	case *types.List:
		return "a list"
	case *types.Tuple:
		return "a tuple"
	case *types.Dict, *types.OrderedDict:
		return "a dict"
	}
	return fmt.Sprintf("%T", v)
}

// item is one key/value pair of an unpickled dict.
type item struct {
	key   any
	value any
}

// items returns the pairs of a dict or OrderedDict in order, with later
// duplicates replacing earlier ones as in Python.
func items(v any) ([]item, bool) {
	var out []item
	switch d := v.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			if entry, ok := e.Value.(*types.OrderedDictEntry); ok {
				out = append(out, item{entry.Key, entry.Value})
			}
		}
		return out, true
	case *types.Dict:
		seen := map[string]int{}
		for _, e := range *d {
			if k, ok := e.Key.(string); ok {
				if i, dup := seen[k]; dup {
					out[i].value = e.Value
					continue
				}
				seen[k] = len(out)
			}
			out = append(out, item{e.Key, e.Value})
		}
		return out, true
	}
	return nil, false
}

package weights

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// wrapperKeys are the keys under which training checkpoints keep the model's
// state_dict beside their other entries (epoch, optimizer, ...).
var wrapperKeys = []string{"state_dict", "model", "model_state_dict"}

// prefixes are the name prefixes that wrappers of a model add to every entry
// of its state_dict: nn.DataParallel and DistributedDataParallel "module.",
// PyTorch Lightning and similar trainers "model.".
var prefixes = []string{"module.", "model."}

// legacyDenseNet matches the names of torchvision's old DenseNet files
// (features.denseblock1.denselayer1.norm.1.weight): the regex of
// torchvision.models.densenet._load_state_dict. Python's \d matches any
// Unicode decimal digit, hence \p{Nd}, and its $ also matches before a final
// newline, which the two groups leave out.
var legacyDenseNet = regexp.MustCompile(`^(.*denselayer\p{Nd}+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))\n?$`)

// notStateDict reports a readable file that does not hold exactly one
// state_dict: a pickled module, several candidate state_dicts, or none.
type notStateDict struct {
	msg    string
	module bool // a pickled module
}

func (e *notStateDict) Error() string { return e.msg }

// namedTensor is one state_dict entry before its values are read.
type namedTensor struct {
	name string
	ref  *tensorRef
}

// stateDict finds the state_dict in an unpickled object and returns its
// entries under torchvision's names. The object is the state_dict itself
// (a dict of tensors), or a checkpoint dict holding it under one of
// wrapperKeys, whose other entries are ignored and never read.
func stateDict(obj any) ([]namedTensor, error) {
	top, ok := items(obj)
	if !ok {
		if o, isObj := obj.(*opaque); isObj && o.instance {
			return nil, pickledModule(o, "")
		}
		return nil, &notStateDict{msg: fmt.Sprintf("holds %s, not a state_dict", describe(obj))}
	}
	sd, err := findStateDict(top)
	if err != nil {
		return nil, err
	}
	out := make([]namedTensor, 0, len(sd))
	for _, it := range sd {
		name, ok := it.key.(string)
		if !ok {
			return nil, fmt.Errorf("state_dict key %s is not a string", describe(it.key))
		}
		ref, ok := it.value.(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("state_dict entry %s is %s, not a tensor", name, describe(it.value))
		}
		out = append(out, namedTensor{name, ref})
	}
	return canonical(out)
}

// stateDict is the package's stateDict of the unpickled object, or an error
// if the pickles named a global that allowedGlobals lacks, unless the
// object is a pickled module, whose error says more.
func (p *unpickler) stateDict(obj any) ([]namedTensor, error) {
	entries, err := stateDict(obj)
	var other *notStateDict
	if p.refused != "" && !(errors.As(err, &other) && other.module) {
		return nil, &refusedGlobal{p.refused}
	}
	return entries, err
}

// findStateDict returns the items of the state_dict in a top-level dict: the
// one dict holding tensors under a wrapper key, or else the top-level dict
// itself if it holds tensors (or nothing).
func findStateDict(top []item) ([]item, error) {
	var found []string
	var inner []item
	var module *opaque
	moduleKey := ""
	for _, it := range top {
		key, _ := it.key.(string)
		if !slices.Contains(wrapperKeys, key) {
			continue
		}
		if d, ok := items(it.value); ok && holdsTensor(d) {
			found = append(found, fmt.Sprintf("%q", key))
			inner = d
		} else if o, ok := it.value.(*opaque); ok && o.instance && module == nil {
			module, moduleKey = o, key
		}
	}
	switch {
	case len(found) == 1:
		return inner, nil
	case len(found) > 1:
		return nil, &notStateDict{msg: fmt.Sprintf("holds %d state_dicts, under %s; its top-level keys are %s",
			len(found), strings.Join(found, " and "), keyList(top))}
	case len(top) == 0 || holdsTensor(top):
		return top, nil
	case module != nil:
		return nil, pickledModule(module, fmt.Sprintf(" under %q", moduleKey))
	}
	return nil, &notStateDict{msg: fmt.Sprintf("holds no state_dict: a dict of keys %s with no tensors, none under %s",
		keyList(top), quoted(wrapperKeys))}
}

// pickledModule is the error for a whole pickled object, such as an
// nn.Module saved with torch.save(model), found where the state_dict should
// be; where says under which key, if not at the top.
func pickledModule(o *opaque, where string) error {
	return &notStateDict{msg: fmt.Sprintf("holds a pickled torch module (%s.%s)%s, not a state_dict; "+
		"save one with torch.save(model.state_dict(), PATH)", o.module, o.name, where), module: true}
}

// holdsTensor reports whether any value of a dict is a tensor.
func holdsTensor(d []item) bool {
	for _, it := range d {
		if _, ok := it.value.(*tensorRef); ok {
			return true
		}
	}
	return false
}

// keyList names the keys of a dict for an error message, the first 20 of
// them.
func keyList(d []item) string {
	const most = 20
	var names []string
	for i, it := range d {
		if i == most {
			names = append(names, fmt.Sprintf("... (%d in all)", len(d)))
			break
		}
		names = append(names, describe(it.key))
	}
	return strings.Join(names, ", ")
}

// quoted joins the strings quoted, with "or" before the last.
func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// canonical renames entries to torchvision's names: it drops a prefix of
// prefixes that every entry has (again while one is left, as in
// "module.model."), then renames DenseNet's legacy names as
// torchvision.models.densenet does. Two entries that end up with the same
// name are an error.
func canonical(entries []namedTensor) ([]namedTensor, error) {
	for len(entries) > 0 {
		p := commonPrefix(entries)
		if p == "" {
			break
		}
		for i := range entries {
			entries[i].name = entries[i].name[len(p):]
		}
	}
	seen := make(map[string]string, len(entries)) // canonical name -> name in the file
	for i, e := range entries {
		if m := legacyDenseNet.FindStringSubmatch(e.name); m != nil {
			entries[i].name = m[1] + m[2]
		}
		if first, dup := seen[entries[i].name]; dup {
			return nil, fmt.Errorf("entries %s and %s both name %s", first, e.name, entries[i].name)
		}
		seen[entries[i].name] = e.name
	}
	return entries, nil
}

// commonPrefix returns the entry of prefixes that every entry's name starts
// with and is longer than, or "" if there is none.
func commonPrefix(entries []namedTensor) string {
	for _, p := range prefixes {
		all := true
		for _, e := range entries {
			if len(e.name) <= len(p) || !strings.HasPrefix(e.name, p) {
				all = false
				break
			}
		}
		if all {
			return p
		}
	}
	return ""
}

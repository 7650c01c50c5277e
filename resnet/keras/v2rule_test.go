package keras

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
)

// This file gives the tests outside the package (v2_reference_test.go) a
// Keras network made of the weights rule of testdata/keras/v2/make_v2.py.

// RuleVar is one variable the rule makes: "LAYER/VAR" and its Keras shape.
type RuleVar struct {
	Name  string
	Shape []int
}

// RuleModel returns the network of vars with the values of make_v2.py's rule
// (kernelGain is its KERNEL_GAIN), checked and laid out as Load does with a
// file's variables.
func RuleModel(vars []RuleVar, kernelGain float64) (*Model, error) {
	layers := map[string]map[string]tensor{}
	shapes := map[string]map[string][]int{}
	for _, v := range vars {
		layer, name, ok := strings.Cut(v.Name, "/")
		if !ok {
			return nil, fmt.Errorf("rule: variable %q is not LAYER/VAR", v.Name)
		}
		data, err := ruleValues(layer, name, v.Shape, kernelGain)
		if err != nil {
			return nil, err
		}
		if layers[layer] == nil {
			layers[layer], shapes[layer] = map[string]tensor{}, map[string][]int{}
		}
		layers[layer][name] = tensor{shape: v.Shape, data: data}
		shapes[layer][name] = v.Shape
	}
	a, err := infer(shapes)
	if err != nil {
		return nil, err
	}
	if err := a.check(shapes); err != nil {
		return nil, err
	}
	m := &Model{Arch: a, Format: "make_v2.py's rule", params: map[string][]float32{}}
	for n, vs := range layers {
		for v, t := range vs {
			m.params[n+"/"+v] = toGraph(t)
		}
	}
	return m, nil
}

// SameParams reports the first weight in which m and o differ.
func (m *Model) SameParams(o *Model) error {
	if len(m.params) != len(o.params) {
		return fmt.Errorf("%d weights, %d", len(m.params), len(o.params))
	}
	for n, p := range m.params {
		if !slices.Equal(p, o.params[n]) {
			return fmt.Errorf("%s differs", n)
		}
	}
	return nil
}

// ruleValues is make_v2.py's weight(): element i of the C-order of a
// variable is float32(lo + w·u_i), u_i from splitmix64 over the FNV-1a 64
// hash of "LAYER/VAR".
func ruleValues(layer, name string, shape []int, kernelGain float64) ([]float32, error) {
	var lo, w float64
	switch name {
	case "kernel":
		var a float64
		switch len(shape) {
		case 2:
			a = math.Sqrt(3.0 / float64(shape[0]))
		case 4:
			g := 1.0
			if strings.HasSuffix(layer, "_3_conv") {
				g = kernelGain
			}
			a = g * math.Sqrt(6.0/float64(shape[0]*shape[1]*shape[2]))
		default:
			return nil, fmt.Errorf("rule: %s/kernel has shape %v", layer, shape)
		}
		lo, w = -a, 2*a
	case "bias":
		lo, w = -0.05, 0.1
	case "gamma", "moving_variance":
		lo, w = 0.5, 1
	case "beta", "moving_mean":
		lo, w = -0.1, 0.2
	default:
		return nil, fmt.Errorf("rule: no values for %s/%s", layer, name)
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	h := fnv.New64a()
	h.Write([]byte(layer + "/" + name))
	seed := h.Sum64()
	out := make([]float32, n)
	for i := range out {
		z := seed + uint64(i+1)*0x9E3779B97F4A7C15
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		z ^= z >> 31
		u := float64(z>>11) * 0x1p-53
		out[i] = float32(lo + float64(w*u)) // float64(…): no fused multiply-add, as numpy
	}
	return out, nil
}

package weights

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The synthetic-v1 stream constants (testdata/SYNTHETIC.md).
const (
	fnvOffset = 0xcbf29ce484222325
	fnvPrime  = 0x100000001b3
	gamma     = 0x9e3779b97f4a7c15
)

// fnv1a64 is the 64-bit FNV-1a hash of the UTF-8 bytes of s.
func fnv1a64(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix is the splitmix64 finaliser.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Uniform returns u(name, seed, i) for i in [0, n): the synthetic-v1 stream
// keyed by name, n values in [0, 1), each exactly representable in float64.
func Uniform(name string, seed uint64, n int) []float64 {
	base := fnv1a64(name) ^ seed
	u := make([]float64, n)
	for i := range u {
		u[i] = float64(mix(base+uint64(i+1)*gamma)>>11) * 0x1p-53
	}
	return u
}

// SyntheticInput returns the synthetic-v1 input for a seed: an NCHW float32
// tensor of n*c*h*w values from the stream named "input", each (2u-1)*2.
func SyntheticInput(n, c, h, w int, seed uint64) []float32 {
	u := Uniform("input", seed, n*c*h*w)
	x := make([]float32, len(u))
	for i, v := range u {
		x[i] = float32(float64(float64(2*v)-1) * 2)
	}
	return x
}

// Synthetic returns the synthetic-v1 weights (testdata/SYNTHETIC.md) for the
// given entries of any ResNet-family architecture (ResNet, Wide ResNet,
// ResNeXt, DenseNet; any class count): values computed in float64 and rounded
// once to float32, byte for byte what the PyTorch reference holds. Integer
// entries (num_batches_tracked) are zero. It panics if an entry has no
// synthetic-v1 rule, which is a programming error in the caller's spec list.
//
// The last batch norm of a residual block layerL.B is its highest-numbered
// layerL.B.bnK among specs (bn2 in BasicBlock nets, bn3 in Bottleneck nets),
// so a partial spec list gives the same values as the whole list as long as
// it holds that entry of every block it names.
func Synthetic(specs []Spec, seed uint64) StateDict {
	last := lastBNs(specs)
	sd := make(StateDict, len(specs))
	for _, s := range specs {
		sd[s.Name] = syntheticTensor(s, seed, last[s.Name])
	}
	return sd
}

// lastBNs returns the names layerL.B.bnK.weight among specs whose K is the
// largest of their block layerL.B: the last batch norm of each residual
// branch.
func lastBNs(specs []Spec) map[string]bool {
	top := map[string]int{} // block -> largest K
	for _, s := range specs {
		if block, k, ok := blockBN(s.Name); ok {
			top[block] = max(top[block], k)
		}
	}
	last := make(map[string]bool, len(top))
	for block, k := range top {
		last[fmt.Sprintf("%s.bn%d.weight", block, k)] = true
	}
	return last
}

// blockBN splits a name layerL.B.bnK.weight into its block layerL.B and K,
// with L, B and K decimal numbers.
func blockBN(name string) (block string, k int, ok bool) {
	parts := strings.Split(name, ".")
	if len(parts) != 4 || parts[3] != "weight" {
		return "", 0, false
	}
	l, okL := strings.CutPrefix(parts[0], "layer")
	bn, okK := strings.CutPrefix(parts[2], "bn")
	if !okL || !okK || !decimal(l) || !decimal(parts[1]) || !decimal(bn) {
		return "", 0, false
	}
	k, err := strconv.Atoi(bn)
	if err != nil {
		return "", 0, false
	}
	return parts[0] + "." + parts[1], k, true
}

// decimal reports whether s is one or more ASCII digits.
func decimal(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// syntheticTensor computes one entry; last marks the last batch norm of a
// residual branch.
func syntheticTensor(s Spec, seed uint64, last bool) *Tensor {
	shape := append([]int(nil), s.Shape...)
	n := 1
	for _, d := range shape {
		n *= d
	}
	if s.Int || strings.HasSuffix(s.Name, "num_batches_tracked") {
		return &Tensor{Shape: shape, Int: make([]int64, n), DType: "int64"}
	}
	f := rule(s, last)
	u := Uniform(s.Name, seed, n)
	data := make([]float32, n)
	for i, v := range u {
		data[i] = float32(f(v))
	}
	return &Tensor{Shape: shape, Data: data, DType: "float32"}
}

// rule returns the float64 value of an entry as a function of u. Each
// product sits inside an explicit float64 conversion so that the compiler
// cannot fuse it with the following addition.
func rule(s Spec, last bool) func(u float64) float64 {
	signed := func(scale float64) func(float64) float64 {
		return func(u float64) float64 { return float64(float64(2*u)-1) * scale }
	}
	leaf := s.Name[strings.LastIndexByte(s.Name, '.')+1:]
	classifier := s.Name == "fc.weight" || s.Name == "classifier.weight"
	vector := len(s.Shape) == 1
	switch {
	case len(s.Shape) == 4: // conv [O, I, kh, kw]; I is in/groups
		fanIn := s.Shape[1] * s.Shape[2] * s.Shape[3]
		return signed(math.Sqrt(6 / float64(fanIn)))
	case classifier && len(s.Shape) == 2:
		return signed(math.Sqrt(3 / float64(s.Shape[1])))
	case classifier:
		// no rule: the classifier's weight must be [O, I]
	case s.Name == "fc.bias", s.Name == "classifier.bias":
		return signed(0.1)
	case !vector:
		// no rule: batch-norm entries are vectors
	case leaf == "weight" && last:
		return func(u float64) float64 { return float64(0.2*u) + 0.2 }
	case leaf == "weight":
		return func(u float64) float64 { return 0.5 + u }
	case leaf == "bias", leaf == "running_mean":
		return signed(0.1)
	case leaf == "running_var":
		return func(u float64) float64 { return 0.5 + u }
	}
	panic(fmt.Sprintf("weights: synthetic-v1 has no rule for %s %v", s.Name, s.Shape))
}

package graph

import "fmt"

// Random returns a graph of op alone on a first input of shape in, its
// node named name, with parameters (Op.Random) and inputs drawn from a
// generator seeded with seed, never zeros: inputs uniform in [-1, 1). The
// op checker, the kernel timer and the tuner all run ops this way.
func Random(name string, op Op, in Shape, seed uint64) (*Graph, [][]float32, error) {
	r := NewRand(seed)
	op, shapes := op.Random(r, in)
	var b Builder
	var ins []*Value
	var data [][]float32
	for i, s := range shapes {
		ins = append(ins, b.Input(fmt.Sprintf("in%d", i), s))
		data = append(data, r.Uniform(s.Numel(), -1, 1))
	}
	b.Output(b.Apply(name, op, ins...))
	g, err := b.Graph()
	return g, data, err
}

package gpuexec

import (
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
)

// Every value's region in an arena is followed by guard elements that no
// kernel writes: a run leaves them all poisoned, and CheckGuards names the
// value whose guard a write past its end reached, in an arena or in a
// graph output's own buffer.
func TestCheckGuards(t *testing.T) {
	r := graph.NewRand(2)
	var b graph.Builder
	x := b.Input("x", graph.Shape{2, 3, 9, 9})
	var vs []*graph.Value
	for i, c := range []int{5, 7, 3} {
		op, _ := graph.Conv(x.Shape[1], c, 3, 1, 1).Random(r, x.Shape)
		x = b.Apply([]string{"a", "b", "c"}[i], op, x)
		vs = append(vs, x)
	}
	b.Output(x)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	const guard = 16
	p, err := New(gputest.Device(t), Options{Guard: guard}).CompileGPU(g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Plan.Verify(p.Graph()); err != nil {
		t.Fatal(err)
	}
	in := graph.NewRand(3).Uniform(2*3*9*9, -1, 1)
	for _, v := range vs {
		if _, err := p.Run(in); err != nil {
			t.Fatal(err)
		}
		if err := p.CheckGuards(); err != nil {
			t.Fatalf("after a clean run: %v", err)
		}
		reg := p.Plan.Region[v.ID]
		at := 4 * uint64(reg.Off+reg.Elems+guard-1) // the last guard element
		if err := p.e.Dev.Write(p.slot(v), at, gpu.Bytes([]float32{1})); err != nil {
			t.Fatal(err)
		}
		err := p.CheckGuards()
		if err == nil || !strings.Contains(err.Error(), "after "+v.Name+" ") || !strings.Contains(err.Error(), "element 15") {
			t.Errorf("a write to the guard of %s: CheckGuards says %v", v.Name, err)
		}
	}
}

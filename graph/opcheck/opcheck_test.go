package opcheck_test

import (
	"math"
	"os"
	"slices"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/gpu/gputest"
	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpuexec"
	"github.com/resnet-gpu/resnet-gpu/graph/opcheck"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet"
)

// allCases is every distinct layer of ResNet-18…152, ResNeXt-50 and
// DenseNet-121 at 224², batch 1 and 2, plus the awkward shapes. (The
// other architectures' layers are variations of these; check-ops --arch
// runs any of them.)
func allCases(t *testing.T) []opcheck.Case {
	gs, err := resnet.LayerGraphs(resnet.CoreArchs, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	return opcheck.Suite(gs...)
}

func TestGPUOps(t *testing.T) {
	dev := gputest.Device(t)
	ex := gpuexec.New(dev, gpuexec.Options{Guard: guardOpt()})
	cs := allCases(t)
	if testing.Short() {
		cs = cs[:len(cs)/2]
	}
	worst := 0.0
	for _, c := range cs {
		if testing.Verbose() {
			println("case", c.String())
		}
		r := opcheck.Run(c, ex, 1)
		if !r.Pass() {
			t.Errorf("%v", r)
		}
		worst = math.Max(worst, r.NMSE)
	}
	t.Logf("%d cases on %s, worst NMSE %.3e", len(cs), ex.Name(), worst)
}

// The case table covers the layers it promises.
func TestCasesCoverResNet(t *testing.T) {
	cs := allCases(t)
	want := []string{
		"conv2d(n=1,c=3,h=224,w=224,o=64,k=7x7,s=2,p=3,relu)",
		"conv2d(n=2,c=1024,h=14,w=14,o=512,k=1x1,s=1,p=0,relu)",
		"conv2d(n=1,c=512,h=7,w=7,o=2048,k=1x1,s=1,p=0,relu,residual)",
		"conv2d(n=2,c=64,h=56,w=56,o=64,k=3x3,s=1,p=1,relu,residual)",
		"maxpool(n=2,c=64,h=112,w=112,k=3x3,s=2,p=1)",
		"linear(x=1x2048,in=2048,out=1000)",
		"avgpool(n=2,c=512,h=7,w=7,global)",
	}
	have := map[string]bool{}
	for _, c := range cs {
		have[c.String()] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("missing case %s", w)
		}
	}
	t.Logf("%d cases", len(cs))
}

// broken wraps an executor and damages one output element, as a kernel
// with an off-by-one would.
type broken struct{ graph.Executor }

type brokenProgram struct{ graph.Program }

func (b broken) Compile(g *graph.Graph) (graph.Program, error) {
	p, err := b.Executor.Compile(g)
	return brokenProgram{p}, err
}

func (b brokenProgram) Run(in ...[]float32) ([][]float32, error) {
	out, err := b.Program.Run(in...)
	if err == nil {
		out[0][len(out[0])-1] = float32(math.NaN())
	}
	return out, err
}

func TestCheckerCatchesUnwritten(t *testing.T) {
	c := opcheck.Awkward()[0]
	if r := opcheck.Run(c, ref.Executor{}, 1); !r.Pass() {
		t.Fatalf("reference against itself: %v", r)
	}
	if r := opcheck.Run(c, broken{ref.Executor{}}, 1); r.Pass() {
		t.Fatalf("an unwritten element passed: %v", r)
	}
}

func guardOpt() int {
	if os.Getenv("OPCHECK_NOGUARD") != "" {
		return 0
	}
	return 64
}

// A sliced case puts a Strided op's output in the middle of its
// concatenation, at an offset and a batch stride larger than its image,
// and gives every other op's output to the concatenation to copy; its
// reference is the op's own, with the ReLUs' results around it.
func TestSliced(t *testing.T) {
	cs := opcheck.Sliced()
	if len(cs) < 10 {
		t.Fatalf("%d sliced cases", len(cs))
	}
	for _, c := range cs {
		g, in, err := c.Graph(1)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		p := graph.NewPlan(g)
		if err := p.Verify(g); err != nil {
			t.Errorf("%s: %v", c, err)
		}
		y := g.Nodes[2].Out // after the two ReLUs
		_, placed := p.Placed[y.ID]
		strided := y.Producer.Op.Kind() != "linear" && y.Producer.Op.Kind() != "softmax"
		l, img := p.Layout[y.ID], y.Shape.Numel()/y.Shape[0]
		if placed != strided || placed && (l.Off == 0 || l.BStride <= img) {
			t.Errorf("%s: the op writes at %+v (images of %d), placed %t", c, l, img, placed)
		}
		out, err := ref.Executor{}.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := out.Run(in...)
		if err != nil {
			t.Fatal(err)
		}
		alone, _, err := ref.Apply(y.Producer.Op, y.Producer.InShapes(), in[:len(in)-2])
		if err != nil {
			t.Fatal(err)
		}
		// Image 1's slice: after image 0 (2+C+3 channels) and the 2 before.
		per := img / y.Shape[1]
		at := (y.Shape[1]+5)*per + 2*per
		if s := got[0][at : at+img]; !slices.Equal(s, alone[img:2*img]) {
			t.Errorf("%s: image 1 of the op's output is not in its slice", c)
		}
	}
}

// A sliced-in case puts the op's first input in the middle of a
// concatenation, at an offset and, at batch > 1, a batch stride larger
// than its image, where the op reads it; its reference is the op's own on
// the input. The convolutions with an input stage are among them, at
// batch 1 and 2.
func TestSlicedIn(t *testing.T) {
	cs := opcheck.SlicedIn()
	staged := map[int]int{} // batch → convolutions with an input stage
	for _, c := range cs {
		if conv, ok := c.Op.(*graph.Conv2D); ok && conv.PreScale != nil {
			staged[c.In[0]]++
		}
		g, in, err := c.Graph(1)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		p := graph.NewPlan(g)
		if err := p.Verify(g); err != nil {
			t.Errorf("%s: %v", c, err)
		}
		op := g.Outputs[0].Producer
		x := op.Inputs[0]
		_, placed := p.Placed[x.ID]
		l, img := p.Layout[x.ID], x.Shape.Numel()/x.Shape[0]
		if !placed || l.Off == 0 || x.Shape[0] > 1 && l.BStride <= img {
			t.Errorf("%s: the op reads at %+v (images of %d), placed %t", c, l, img, placed)
		}
		out, err := ref.Executor{}.Compile(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := out.Run(in...)
		if err != nil {
			t.Fatal(err)
		}
		alone, _, err := ref.Apply(op.Op, op.InShapes(), in[:len(in)-2])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[0], alone) {
			t.Errorf("%s: the op's output differs from the op's on its input alone", c)
		}
	}
	if staged[1] < 2 || staged[2] < 4 {
		t.Errorf("convolutions with an input stage by batch: %v", staged)
	}
}

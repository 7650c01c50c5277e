package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/resnet-gpu/resnet-gpu/gpu"
	"github.com/resnet-gpu/resnet-gpu/graph/gpugrad"
	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

// gradNet is one network's gradients as gradients --json prints them.
type gradNet struct {
	Name   string             `json:"name"`
	Loss   float64            `json:"loss"`
	Layers []resnet.LayerGrad `json:"layers"`
}

// gradReport is what gradients --json prints.
type gradReport struct {
	Arch   string   `json:"arch"`
	Size   int      `json:"size"`
	Seed   uint64   `json:"seed"`
	Images []string `json:"images"`
	Labels []int    `json:"labels"`
	Device string   `json:"device"`
	ResNet *gradNet `json:"resnet"`
	Plain  *gradNet `json:"plain,omitempty"`
}

func runGradients(args []string) error {
	fs := newFlags("gradients", "[flags] IMAGE|DIR...")
	arch := fs.String("arch", "resnet34", "architecture: "+strings.Join(resnet.TrainNets, ", "))
	plain := fs.Bool("compare-plain", false, "also the plain network (the ResNet without identity paths or projection shortcuts)")
	size := fs.Int("size", 0, "height and width of the input (default 64 for the ImageNet ResNets, 32 for the CIFAR ones)")
	seed := fs.Uint64("seed", 1, "seed of the He initialisation")
	asJSON := fs.Bool("json", false, "print one JSON object")
	plotFile := fs.String("plot", "", "write a plot of the gradient norms by depth (.png or .svg)")
	device := fs.String("device", "cpu", "where the step runs: cpu (the float64 reference) or gpu (forward and backward in float32, one submission)")
	adapter := fs.String("adapter", "", "with --device gpu, the GPU adapter: index or name substring")
	export := fs.String("export", "", "write each network's weights and input to DIR/NAME.bin for testdata/grad/make_norms.py")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no images given (e.g. testdata/images): %w", errUsage)
	}
	if *size == 0 {
		*size = 64
		if _, ok := resnet.Archs[*arch]; !ok {
			*size = 32
		}
	}
	if *size < 8 || *size > 512 {
		return fmt.Errorf("--size %d: want 8..512: %w", *size, errUsage)
	}
	if ext := strings.ToLower(filepath.Ext(*plotFile)); *plotFile != "" && ext != ".png" && ext != ".svg" {
		return fmt.Errorf("--plot %s: want a .png or .svg file: %w", *plotFile, errUsage)
	}
	if *device != "cpu" && *device != "gpu" {
		return fmt.Errorf("--device %q: want cpu or gpu: %w", *device, errUsage)
	}
	var paths []string
	for _, a := range fs.Args() {
		if st, err := os.Stat(a); err == nil && st.IsDir() {
			ps, err := imageFiles(a)
			if err != nil {
				return err
			}
			paths = append(paths, ps...)
		} else {
			paths = append(paths, a)
		}
	}
	if len(paths) < 2 {
		return fmt.Errorf("%d image: batch statistics need at least 2: %w", len(paths), errUsage)
	}
	var imgs []image.Image
	rep := gradReport{Arch: *arch, Size: *size, Seed: *seed, Device: "cpu reference (float64)"}
	for _, p := range paths {
		img, err := imagenet.Open(p)
		if err != nil {
			return err
		}
		imgs = append(imgs, img)
		rep.Images = append(rep.Images, filepath.Base(p))
	}
	input, err := resnet.TrainBatch(imgs, *size)
	if err != nil {
		return err
	}
	var ex *gpugrad.Executor
	if *device == "gpu" {
		dev, err := gpu.Open(gpu.Options{Adapter: *adapter})
		if err != nil {
			return err
		}
		defer dev.Close()
		ex = gpugrad.New(dev)
		rep.Device = ex.Name() + ", float32"
	}
	classes, err := resnet.TrainClasses(*arch)
	if err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	rep.Labels = gradLabels(rep.Images, classes)
	run := func(isPlain bool) (*gradNet, error) {
		opt := resnet.TrainOptions{Plain: isPlain, Batch: len(imgs), Height: *size, Width: *size, Labels: rep.Labels, Seed: *seed}
		net, err := resnet.TrainGraph(*arch, opt)
		if err != nil {
			return nil, err
		}
		if *export != "" {
			if err := exportNet(filepath.Join(*export, net.Name+".bin"), net, *arch, isPlain, rep, input); err != nil {
				return nil, err
			}
		}
		var loss float64
		var layers []resnet.LayerGrad
		if ex != nil {
			loss, layers, err = net.GradNormsGPU(input, ex)
		} else {
			loss, layers, err = net.GradNorms(input)
		}
		if err != nil {
			return nil, err
		}
		return &gradNet{Name: net.Name, Loss: loss, Layers: layers}, nil
	}
	if rep.ResNet, err = run(false); err != nil {
		return err
	}
	if *plain {
		if rep.Plain, err = run(true); err != nil {
			return err
		}
	}
	if *plotFile != "" {
		if err := plotGradients(*plotFile, rep); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printGradients(os.Stdout, rep)
	return nil
}

// fixtureClasses are the ImageNet classes of the fixture images.
var fixtureClasses = map[string]int{"chelsea.png": 281, "coffee.png": 967, "rocket.jpg": 812, "astronaut.png": 834}

// gradLabels gives each image its label: a fixture's ImageNet class
// (tabby, espresso, space shuttle, suit) for a 1000-class network, else
// k mod classes for image k.
func gradLabels(images []string, classes int) []int {
	out := make([]int, len(images))
	for k, name := range images {
		out[k] = k % classes
		if c, ok := fixtureClasses[name]; ok && classes == 1000 {
			out[k] = c
		}
	}
	return out
}

// printGradients prints the table: a row per layer, the residual and
// (with --compare-plain) the plain network's norms side by side.
func printGradients(w io.Writer, rep gradReport) {
	fmt.Fprintf(w, "%s at init (seed %d), %d images at %d×%d, labels %v, on the %s\n", rep.Arch, rep.Seed, len(rep.Images), rep.Size, rep.Size, rep.Labels, rep.Device)
	fmt.Fprintf(w, "loss: %s %.6f", rep.ResNet.Name, rep.ResNet.Loss)
	plain := map[string]resnet.LayerGrad{}
	if rep.Plain != nil {
		fmt.Fprintf(w, ", %s %.6f", rep.Plain.Name, rep.Plain.Loss)
		for _, l := range rep.Plain.Layers {
			plain[l.Name] = l
		}
	}
	fmt.Fprintf(w, "\n\n%-5s %-24s %14s %14s", "depth", "layer", "‖∂L/∂W‖", "‖∂L/∂out‖")
	if rep.Plain != nil {
		fmt.Fprintf(w, " %14s %14s", "plain ‖∂L/∂W‖", "plain ‖∂L/∂out‖")
	}
	fmt.Fprintln(w)
	for i, l := range rep.ResNet.Layers {
		fmt.Fprintf(w, "%-5d %-24s %14.4e %14.4e", i+1, l.Name, l.WeightGradNorm, l.ActivationGradNorm)
		if p, ok := plain[l.Name]; ok {
			fmt.Fprintf(w, " %14.4e %14.4e", p.WeightGradNorm, p.ActivationGradNorm)
		} else if rep.Plain != nil {
			fmt.Fprintf(w, " %14s %14s", "-", "-")
		}
		fmt.Fprintln(w)
	}
}

// plotGradients writes the norms of the main path's layers (the
// projection shortcuts left out) against their depth, log scale, solid
// for weight gradients and dashed for activation gradients.
func plotGradients(path string, rep gradReport) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s at init, %d images at %d×%d: gradient norms", rep.Arch, len(rep.Images), rep.Size, rep.Size)
	p.X.Label.Text = "layer depth (stem = 1; projection shortcuts left out)"
	p.Y.Label.Text = "gradient L2 norm"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	for i, n := range []*gradNet{rep.ResNet, rep.Plain} {
		if n == nil {
			continue
		}
		var wts, acts plotter.XYs
		for _, l := range n.Layers {
			if strings.Contains(l.Name, "downsample") {
				continue
			}
			d := float64(len(wts) + 1)
			wts = append(wts, plotter.XY{X: d, Y: math.Max(l.WeightGradNorm, 1e-30)})
			acts = append(acts, plotter.XY{X: d, Y: math.Max(l.ActivationGradNorm, 1e-30)})
		}
		for k, pts := range []plotter.XYs{wts, acts} {
			l, err := plotter.NewLine(pts)
			if err != nil {
				return err
			}
			l.Color = plotColors[i]
			l.Width = vg.Points(1.5)
			what := "‖∂L/∂W‖"
			if k == 1 {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				what = "‖∂L/∂out‖"
			}
			p.Add(l)
			p.Legend.Add(n.Name+" "+what, l)
		}
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

// plotColors are the residual and the plain network's lines.
var plotColors = []color.Color{color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff}}

// exportHeader is the first line of an --export file: what
// make_norms.py needs to build the same network in PyTorch. The line is
// followed by the input and then the tensors, in order, as little-endian
// float32.
type exportHeader struct {
	Arch       string         `json:"arch"`
	Name       string         `json:"name"`
	Plain      bool           `json:"plain"`
	Seed       uint64         `json:"seed"`
	Size       int            `json:"size"`
	Images     []string       `json:"images"`
	Labels     []int          `json:"labels"`
	InputShape []int          `json:"input_shape"`
	Tensors    []exportTensor `json:"tensors"`
}

type exportTensor struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// exportNet writes net's weights and the input to path.
func exportNet(path string, net *resnet.TrainNet, arch string, plain bool, rep gradReport, input []float32) error {
	h := exportHeader{Arch: arch, Name: net.Name, Plain: plain, Seed: rep.Seed, Size: rep.Size, Images: rep.Images,
		Labels: rep.Labels, InputShape: []int{len(rep.Images), 3, rep.Size, rep.Size}}
	for _, t := range net.Tensors {
		h.Tensors = append(h.Tensors, exportTensor{t.Name, t.Shape})
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	b, err := json.Marshal(h)
	if err == nil {
		_, err = f.Write(append(b, '\n'))
	}
	if err == nil {
		err = binary.Write(f, binary.LittleEndian, input)
	}
	for _, t := range net.Tensors {
		if err == nil {
			err = binary.Write(f, binary.LittleEndian, t.Data)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

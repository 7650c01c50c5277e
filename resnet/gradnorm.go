package resnet

import (
	"fmt"
	"image"
	"math"

	"github.com/resnet-gpu/resnet-gpu/graph"
	"github.com/resnet-gpu/resnet-gpu/graph/gpugrad"
	"github.com/resnet-gpu/resnet-gpu/graph/ref"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

// TrainBatch preprocesses imgs for a training graph of input size
// size×size: torchvision's ImageNet evaluation transform scaled down
// (the shorter side resized to size·256/224, the centre size×size crop,
// ImageNet's mean and standard deviation), images one after another.
func TrainBatch(imgs []image.Image, size int) ([]float32, error) {
	if size < 1 {
		return nil, fmt.Errorf("resnet: input size %d is not positive", size)
	}
	t := imagenet.V1
	t.Resize, t.Crop = size*256/224, size
	var out []float32
	for i, img := range imgs {
		if img == nil || img.Bounds().Empty() {
			return nil, fmt.Errorf("resnet: image %d is empty", i)
		}
		out = append(out, t.Apply(img)...)
	}
	return out, nil
}

// LayerGrad is the gradient of the loss at one weighted layer.
type LayerGrad struct {
	Name string `json:"name"`
	// WeightGradNorm is the L2 norm of the gradient with respect to the
	// layer's weight (not its bias).
	WeightGradNorm float64 `json:"weight_grad_norm"`
	// ActivationGradNorm is the L2 norm of the gradient with respect to
	// the layer's output (the convolution's, before its batch-norm), over
	// the whole batch.
	ActivationGradNorm float64 `json:"activation_grad_norm"`
}

// GradNorms runs n forward and backward on input (a TrainBatch) with the
// CPU reference in float64 and returns the loss and, for every layer of
// n.Layers in forward order, its gradient norms.
func (n *TrainNet) GradNorms(input []float32) (float64, []LayerGrad, error) {
	t, err := ref.NewTrainer(n.Graph)
	if err != nil {
		return 0, nil, err
	}
	gr, err := t.Backward(graph.To64(input))
	if err != nil {
		return 0, nil, err
	}
	return gr.Loss, n.layerGrads(gr.DParams, gr.DValues), nil
}

// GradNormsGPU is GradNorms with the whole step on the GPU in float32,
// forward and backward in one submission (graph/gpugrad's Step); the
// norms are summed in float64.
func (n *TrainNet) GradNormsGPU(input []float32, ex *gpugrad.Executor) (float64, []LayerGrad, error) {
	var opt gpugrad.Options // the layers' output gradients
	for _, k := range n.Layers {
		opt.DValues = append(opt.DValues, n.Graph.Nodes[k].Out.ID)
	}
	r, err := ex.Step(n.Graph, []float32{1}, opt, input)
	if err != nil {
		return 0, nil, err
	}
	dp := make([][][]float64, len(r.DParams))
	for k, ps := range r.DParams {
		for _, p := range ps {
			dp[k] = append(dp[k], graph.To64(p))
		}
	}
	dv := map[int][]float64{}
	for id, v := range r.DValues {
		dv[id] = graph.To64(v)
	}
	return float64(r.Output[0]), n.layerGrads(dp, dv), nil
}

// layerGrads returns the norms of the layers' weight gradients (by node
// index) and output gradients (by value ID).
func (n *TrainNet) layerGrads(dparams [][][]float64, dvalues map[int][]float64) []LayerGrad {
	out := make([]LayerGrad, len(n.Layers))
	for i, k := range n.Layers {
		nd := n.Graph.Nodes[k]
		out[i] = LayerGrad{Name: nd.Name, WeightGradNorm: norm(dparams[k][0]), ActivationGradNorm: norm(dvalues[nd.Out.ID])}
	}
	return out
}

// norm is the L2 norm of v.
func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

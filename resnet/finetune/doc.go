// Package finetune trains a new classifier head on a pretrained
// ResNet-family network from a folder of labelled images (one sub-folder
// per class, as torchvision's ImageFolder reads them), and returns the
// whole network's state_dict for weights.Save: the backbone unchanged, the
// head replaced.
//
// The backbone is frozen, so each epoch runs it once per augmented
// training image through the inference engine (resnet.Model, on the GPU
// or the CPU reference) to get the image's pooled features, then trains
// the head (linear layer and softmax cross-entropy) on those features
// with gpugrad's backward pass on the GPU, or ref.Trainer's on the CPU,
// and a host-side SGD-with-momentum or Adam update in float64, as
// torch.optim's.
package finetune

// Package finetune trains a new classifier head, and optionally a ResNet's
// last stage, on a pretrained ResNet-family network from a folder of
// labelled images (one sub-folder per class, as torchvision's ImageFolder
// reads them), and returns the whole network's state_dict for
// weights.Save: the frozen part unchanged, the trained part replaced.
//
// The frozen part runs once per augmented training image and epoch
// through the inference engine (resnet.Model, on the GPU or the CPU
// reference): for the head alone the network with an identity classifier
// gives the pooled features; with the last stage, the inference graph's
// next-to-last stage output. The trained part (resnet.LastStageGraph, or
// linear and softmax cross-entropy) then runs forward and backward per
// batch with gpugrad on the GPU, or ref.Trainer on the CPU, followed by a
// host-side SGD-with-momentum or Adam update in float64 of the float32
// parameters, as torch.optim's.
//
// LoadDir reads the images' headers alone; Run decodes the images as the
// batches need them, on a pool of GOMAXPROCS goroutines that works ahead
// of the backbone by at most a few batches (resnet.Model.ReadAhead), and
// keeps decoded images from one epoch to the next in a cache of at most
// Options.Cache bytes, so that memory does not grow with the dataset.
package finetune

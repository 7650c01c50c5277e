package resnet_test

import (
	"context"
	"fmt"
	"image"
	"log"

	"github.com/resnet-gpu/resnet-gpu/resnet"
	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
	"github.com/resnet-gpu/resnet-gpu/resnet/weights"
)

// Classify an image, as torchvision's resnet18(weights=...) would. The
// example runs the CPU reference with synthetic weights so that its output
// is fixed; real use passes "pretrained" and resnet.Options{} (the GPU).
func Example() {
	m, err := resnet.Load(context.Background(), "resnet18", "synthetic:0", resnet.Options{Device: "cpu"})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	img, err := imagenet.Open("../testdata/images/chelsea.png")
	if err != nil {
		log.Fatal(err)
	}
	preds, err := m.Classify([]image.Image{img}, 3)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range preds[0] {
		fmt.Printf("%d %s %s\n", p.Index, p.WNID, p.Label)
	}
	// Output:
	// 923 n07579787 plate
	// 451 n02865351 bolo tie
	// 191 n02096051 Airedale
}

// Logits of a preprocessed batch: the lower-level access.
func ExampleModel_Forward() {
	m, err := resnet.Load(context.Background(), "resnet18", "synthetic:0", resnet.Options{Device: "cpu"})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	x := weights.SyntheticInput(1, 3, 224, 224, 0) // already normalised, 3×224×224
	logits, _, err := m.Forward([][]float32{x})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d logits, top class %d\n", len(logits[0]), m.TopK(logits[0], 1)[0].Index)
	// Output: 1000 logits, top class 451
}

// Command resnet-gpu classifies images with torchvision's ResNet-family
// networks (ResNets, wide ResNets, ResNeXts, DenseNets; stock or
// fine-tuned) on any GPU through WebGPU, checks every kernel and the whole
// network against a CPU reference, and benchmarks them.
//
//	resnet-gpu devices                      list the adapters
//	resnet-gpu classify [flags] INPUT...    top-k labels for images or .f32 tensors
//	resnet-gpu check [flags]                GPU against the CPU reference, stage by stage
//	resnet-gpu check-ops [flags]            the op checker on the chosen adapter
//	resnet-gpu bench [flags]                forward-pass latency and throughput
//	resnet-gpu kernels [flags]              per-layer kernel times and a roofline
//	resnet-gpu summary [flags]              the layers with shapes, parameters and multiply-adds
//	resnet-gpu serve [flags]                a model server (KServe's Open Inference Protocol)
//	resnet-gpu gradients [flags] IMAGE...   gradient norms layer by layer at init, plain vs residual
//	resnet-gpu finetune --data DIR [flags]  train a new head on your own images; writes a .pth and labels
//	resnet-gpu demo DIR                     classify a folder on GPU and CPU (make run)
//
// Run "resnet-gpu COMMAND -h" or "resnet-gpu help COMMAND" for a command's flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

type command struct {
	name, args, summary string
	run                 func(args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"devices", "", "list the WebGPU adapters", runDevices},
		{"classify", "[flags] INPUT...", "classify images (JPEG, PNG, GIF, BMP, TIFF, WebP) or .f32 tensors", runClassify},
		{"check", "[flags]", "run a network on the GPU and the CPU reference and compare each stage", runCheck},
		{"check-ops", "[flags]", "run the op checker: every layer shape on the GPU against the CPU reference", runCheckOps},
		{"bench", "[flags]", "time forward passes: median, p10, p90 latency and images/s", runBench},
		{"kernels", "[flags]", "time every distinct layer's kernel against the adapter's ceilings", runKernels},
		{"summary", "[flags]", "print the network layer by layer: output shapes, parameters, multiply-adds, memory", runSummary},
		{"serve", "[flags]", "serve models over the Open Inference Protocol (REST and gRPC) with dynamic batching", runServe},
		{"gradients", "[flags] IMAGE|DIR...", "gradient norms layer by layer at initialisation, plain vs residual (CPU reference)", runGradients},
		{"finetune", "[flags] --weights BASE --data DIR", "train a new classifier head on a folder of images (one folder per class); writes a .pth and its labels", runFinetune},
		{"demo", "[flags] DIR", "classify a folder of images with pretrained ResNet-50 on GPU and CPU (make run)", runDemo},
	}
}

// errUsage marks errors whose message already says what to do.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: resnet-gpu COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'resnet-gpu COMMAND -h' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "resnet-gpu: internal error: %v\n", r)
			code = 1
		}
	}()
	if len(args) == 0 {
		usage(os.Stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		if len(args) > 1 && name == "help" { // help COMMAND: that command's usage
			return run([]string{args[1], "-h"})
		}
		usage(os.Stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(os.Stderr, "resnet-gpu %s: %s\n", name, strings.TrimSuffix(err.Error(), ": usage"))
			return 2
		case errors.Is(err, errFailed):
			return 1
		}
		if sig := (interrupted{}); errors.As(err, &sig) {
			fmt.Fprintf(os.Stderr, "resnet-gpu %s: %s\n", name, oneLine(err.Error()))
			return 128 + int(sig.sig)
		}
		fmt.Fprintf(os.Stderr, "resnet-gpu %s: %s\n", name, oneLine(err.Error()))
		return 1
	}
	fmt.Fprintf(os.Stderr, "resnet-gpu: unknown command %q (run 'resnet-gpu help')\n", name)
	return 2
}

// errFailed reports a check that ran and failed; its details were printed.
var errFailed = errors.New("failed")

// newFlags returns a flag set whose parse errors come back as one line.
func newFlags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(os.Stdout, "usage: resnet-gpu %s %s\n\nflags:\n", name, args)
		fs.SetOutput(os.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args, turning errors into usage errors. Flags may follow
// positional arguments (classify img.png --top 1), as they may precede
// them; everything after "--" is positional.
func parse(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err // the flag package printed the usage
			}
			return fmt.Errorf("%v (see 'resnet-gpu %s -h'): %w", err, fs.Name(), errUsage)
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" || len(rest) == 0 {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	// Leave the positional arguments in fs.Args().
	return fs.Parse(append([]string{"--"}, pos...))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

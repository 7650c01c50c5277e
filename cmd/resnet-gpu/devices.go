package main

import (
	"fmt"

	"github.com/resnet-gpu/resnet-gpu/gpu"
)

func runDevices(args []string) error {
	fs := newFlags("devices", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	as, err := gpu.Adapters()
	if err != nil {
		return err
	}
	if len(as) == 0 {
		return fmt.Errorf("%w (install a Vulkan driver; without a GPU: apt-get install -y mesa-vulkan-drivers libvulkan1)", gpu.ErrNoAdapter)
	}
	for _, a := range as {
		fmt.Printf("%d  %s\n   vendor %s, backend %s, type %s, driver %s\n", a.Index, a.Name, a.Vendor, a.Backend, a.Type, a.Driver)
	}
	d, err := gpu.Open(gpu.Options{})
	if err == nil {
		fmt.Printf("default: #%d %s (choose with --adapter or $%s)\n", d.Info.Index, d.Info.Name, gpu.AdapterEnv)
		d.Close()
	}
	return nil
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "resnet-gpu-cli")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "resnet-gpu")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	shareShaderCache()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// shareShaderCache points Mesa's shader cache, which lives in
// $XDG_CACHE_HOME by default, to where it lies outside the tests: the
// binary's runs each get a private XDG_CACHE_HOME (their weights, tuning
// and ceilings caches start empty), and without this every run would
// compile its kernels from scratch, seconds each on lavapipe. The shader
// cache holds the driver's compilations of the WGSL it is given, nothing
// of ours, so sharing it changes no result.
func shareShaderCache() {
	if os.Getenv("MESA_SHADER_CACHE_DIR") != "" {
		return
	}
	if dir, err := os.UserCacheDir(); err == nil {
		os.Setenv("MESA_SHADER_CACHE_DIR", dir)
	}
}

// cli runs the binary with a private cache and returns stdout, stderr and
// the exit code.
func cli(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	return cliStdin(t, "", env, args...)
}

// cliStdin is cli with stdin reading from a string.
func cliStdin(t *testing.T, stdin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"panic", "goroutine ", "SIGSEGV"} {
		if strings.Contains(errb.String(), bad) {
			t.Fatalf("%v: stderr shows a crash:\n%s", args, errb.String())
		}
	}
	return out.String(), errb.String(), code
}

// oneErrorLine asserts a failure with exactly one line on stderr containing want.
func oneErrorLine(t *testing.T, stderr string, code, wantCode int, want string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit %d, want %d (stderr %q)", code, wantCode, stderr)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(stderr, want) {
		t.Errorf("stderr %q: want one line containing %q", stderr, want)
	}
}

func TestBadUsage(t *testing.T) {
	_, e, c := cli(t, nil, "frobnicate")
	oneErrorLine(t, e, c, 2, `unknown command "frobnicate"`)
	_, e, c = cli(t, nil, "classify", "--bogus", "x.png")
	oneErrorLine(t, e, c, 2, "flag provided but not defined: -bogus")
	_, e, c = cli(t, nil, "classify")
	oneErrorLine(t, e, c, 2, "no inputs")
	_, e, c = cli(t, nil, "classify", "--top", "0", "x.png")
	oneErrorLine(t, e, c, 2, "--top 0")
	_, e, c = cli(t, nil, "classify", "--arch", "resnet20", "--weights", "synthetic:0", "x.png")
	oneErrorLine(t, e, c, 1, `unknown architecture "resnet20"`)
	_, e, c = cli(t, nil, "classify", "--weights", "synthetic:x", "--device", "cpu", "x.png")
	oneErrorLine(t, e, c, 1, "synthetic:SEED")
	_, e, c = cli(t, nil, "bench", "--runs", "3")
	oneErrorLine(t, e, c, 2, "at least 20")
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	png, err := os.ReadFile("../../testdata/images/chelsea.png")
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(dir, "cut.png")
	os.WriteFile(trunc, png[:len(png)/3], 0o644)
	short := filepath.Join(dir, "short.f32")
	os.WriteFile(short, make([]byte, 100), 0o644)
	badPth := filepath.Join(dir, "bad.pth")
	os.WriteFile(badPth, []byte("PK\x03\x04 definitely not a zip"), 0o644)
	cpu := []string{"classify", "--arch", "resnet18", "--weights", "synthetic:0", "--device", "cpu"}
	_, e, c := cli(t, nil, append(cpu, filepath.Join(dir, "missing.png"))...)
	oneErrorLine(t, e, c, 1, "missing.png")
	_, e, c = cli(t, nil, append(cpu, trunc)...)
	oneErrorLine(t, e, c, 1, "cut.png")
	_, e, c = cli(t, nil, append(cpu, short)...)
	oneErrorLine(t, e, c, 1, "short.f32: 100 bytes")
	_, e, c = cli(t, nil, "classify", "--arch", "resnet18", "--weights", badPth, "--device", "cpu", short)
	oneErrorLine(t, e, c, 1, "bad.pth")
	// A torchvision file for another architecture names the first mismatch.
	_, e, c = cli(t, nil, "classify", "--arch", "resnet50", "--weights", "../../testdata/pth/resnet18-stem-layer1-synthetic-seed0.zip.pth", "--device", "cpu", short)
	oneErrorLine(t, e, c, 1, "do not fit resnet50")
}

func TestOfflinePretrained(t *testing.T) {
	_, e, c := cli(t, []string{"RESNET_GPU_WEIGHTS_BASE=http://127.0.0.1:1/"}, "classify", "--arch", "resnet18", "--device", "cpu", "../../testdata/images/chelsea.png")
	oneErrorLine(t, e, c, 1, "http://127.0.0.1:1/resnet18-f37072fd.pth")
	if !strings.Contains(e, "--weights synthetic:0") {
		t.Errorf("the error does not name the alternatives: %q", e)
	}
}

// classifyJSON is classify --json's document.
type classifyJSON struct {
	Arch, Weights, Device string
	Classes               int
	Results               []struct {
		Input string
		Top   []struct {
			Index int
			Label string
			WNID  string
			Prob  float64
		}
		Logits []float64
	}
}

// PyTorch's top-1 for chelsea.png with synthetic-v1 resnet18 weights is 923
// (testdata/reference.json), on the CPU reference and on the GPU.
func TestClassifyJSON(t *testing.T) {
	for _, device := range []string{"cpu", "gpu"} {
		t.Run(device, func(t *testing.T) {
			args := []string{"classify", "--arch", "resnet18", "--weights", "synthetic:0", "--device", device, "--json", "--logits", "--top", "3",
				"../../testdata/inputs/chelsea.3x224x224.f32", "../../testdata/images/chelsea.png"}
			out, e, c := cli(t, nil, args...)
			if c != 0 {
				if device == "gpu" && os.Getenv("CI") == "" && strings.Contains(e, "no WebGPU adapter") {
					t.Skip("no GPU adapter")
				}
				t.Fatalf("exit %d: %s", c, e)
			}
			var r classifyJSON
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("%v in %q", err, out)
			}
			if r.Arch != "resnet18" || len(r.Results) != 2 {
				t.Fatalf("unexpected JSON %+v", r)
			}
			for _, res := range r.Results {
				if len(res.Top) != 3 || res.Top[0].Index != 923 || res.Top[0].WNID != "n07579787" || len(res.Logits) != 1000 {
					t.Errorf("%s: top %+v, %d logits; want plate (923) first and 1000 logits", res.Input, res.Top, len(res.Logits))
				}
			}
		})
	}
}

func TestDevices(t *testing.T) {
	out, e, c := cli(t, nil, "devices")
	if c != 0 {
		if os.Getenv("CI") == "" {
			t.Skipf("no adapter: %s", e)
		}
		t.Fatalf("exit %d: %s", c, e)
	}
	if !strings.Contains(out, "backend Vulkan") && !strings.Contains(out, "backend Metal") && !strings.Contains(out, "backend D3D12") {
		t.Errorf("devices output lacks a backend: %q", out)
	}
}

func TestCheckOpsFilter(t *testing.T) {
	out, e, c := cli(t, nil, "check-ops", "--filter", "avgpool")
	if c != 0 {
		if os.Getenv("CI") == "" && strings.Contains(e, "no WebGPU adapter") {
			t.Skip("no GPU adapter")
		}
		t.Fatalf("exit %d: %s\n%s", c, e, out)
	}
	if !strings.Contains(out, "0 failed") || !strings.Contains(out, "adapter:") {
		t.Errorf("unexpected output:\n%s", out)
	}
}

// kernels --dump-wgsl writes each distinct kernel source once, atomically,
// into a folder it creates, and fails in one line on one it cannot create.
func TestKernelsDumpWGSL(t *testing.T) {
	for _, c := range []struct {
		name string
		env  []string
	}{
		{"adapter", nil},
		// Hiding the Vulkan drivers leaves no adapter on Linux: both kinds of device.
		{"no adapter", []string{"VK_ICD_FILENAMES=/nonexistent.json", "VK_DRIVER_FILES=/nonexistent.json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "new", "wgsl")
			out, e, code := cli(t, c.env, "kernels", "--arch", "resnet18", "--dump-wgsl", dir)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, e)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, fmt.Sprintf("wrote %d WGSL files to %s", len(ents), dir)) {
				t.Errorf("output %q does not count the %d files", out, len(ents))
			}
			seen := map[string]string{}
			cpu, gpu := 0, 0
			for _, ent := range ents {
				b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(ent.Name(), ".wgsl") || !strings.Contains(string(b), "@compute") {
					t.Errorf("%s: not a WGSL kernel (%d bytes)", ent.Name(), len(b))
				}
				if other, ok := seen[string(b)]; ok {
					t.Errorf("%s and %s hold the same source", other, ent.Name())
				}
				seen[string(b)] = ent.Name()
				if strings.Contains(ent.Name(), "-cpu-") {
					cpu++
				} else {
					gpu++
				}
			}
			if len(ents) < 5 {
				t.Errorf("%d files, want every kernel of resnet18: %q", len(ents), e)
			}
			if strings.Contains(e, "no WebGPU adapter") && (cpu == 0 || gpu == 0) {
				t.Errorf("without an adapter %d CPU-adapter and %d GPU files, want both kinds", cpu, gpu)
			}
		})
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, e, code := cli(t, nil, "kernels", "--dump-wgsl", filepath.Join(file, "sub"))
	oneErrorLine(t, e, code, 1, "--dump-wgsl: mkdir "+file)
}

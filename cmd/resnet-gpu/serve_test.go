package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serve serves the tiny DenseNet twice on the CPU reference at free ports,
// answers /predictions on both models, and on SIGTERM drains and exits 0,
// with JSON logs.
func TestServe(t *testing.T) {
	cmd := exec.Command(bin, "serve", "--device", "cpu", "--crop", "32", "--resize", "36", "--max-batch", "2", "--log-format", "json",
		"--model", "a="+tinyPth, "--model", "b="+tinyPth, "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan map[string]any)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var l map[string]any
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("a log line that is not JSON: %q", sc.Text())
				continue
			}
			lines <- l
		}
		close(lines)
	}()
	var addr string
	for l := range lines {
		if l["msg"] == "serving REST" {
			addr, _ = l["addr"].(string)
		}
		if l["msg"] == "ready" {
			break
		}
	}
	if addr == "" {
		t.Fatal("no REST address logged before ready")
	}
	img, err := os.ReadFile("../../testdata/images/chelsea.png")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "b"} {
		resp, err := http.Post("http://"+addr+"/predictions/"+m+"?top=2", "image/png", strings.NewReader(string(img)))
		if err != nil {
			t.Fatal(err)
		}
		var top []struct {
			Index int
			Label string
			Prob  float64
		}
		err = json.NewDecoder(resp.Body).Decode(&top)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(top) != 2 || top[0].Prob < top[1].Prob {
			t.Errorf("model %s: %s %+v %v", m, resp.Status, top, err)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20s after SIGTERM")
	}
}

// Bad serve flags are usage errors, reported before any loading.
func TestServeFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", "noequals"}, "NAME=WEIGHTS"},
		{[]string{"--model", "a/b=x.pth"}, "NAME=WEIGHTS"},
		{[]string{"--model", "a=x.pth", "--model", "a=y.pth"}, "twice"},
		{[]string{"--max-batch", "0"}, "--max-batch"},
		{[]string{"--min-body-rate", "0"}, "--min-body-rate"},
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"--http", "", "--grpc", ""}, "nothing to serve"},
		{[]string{"--device", "tpu"}, "--device"},
	} {
		_, e, code := cli(t, nil, append([]string{"serve"}, c.args...)...)
		oneErrorLine(t, e, code, 2, c.want)
	}
	if !regexp.MustCompile(`serve +serve models`).MatchString(func() string { o, _, _ := cli(t, nil, "help"); return o }()) {
		t.Error("help does not list serve")
	}
}

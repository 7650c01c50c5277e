package resnet_test

import (
	"math"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/resnet"
)

func TestRelErr(t *testing.T) {
	if e := resnet.RelErr([]float32{1, 2, 4}, []float64{1, 2, 3}); e != 1.0/3 {
		t.Errorf("RelErr = %v, want 1/3", e)
	}
	if e := resnet.RelErr([]float32{1, -2}, []float32{1, 0}); e != 2 {
		t.Errorf("RelErr = %v, want 2", e)
	}
	if e := resnet.RelErr([]float32{0.5, 0}, []float32{0, 0}); e != 0.5 {
		t.Errorf("RelErr against zeros = %v, want 0.5", e)
	}
	nan := float32(math.NaN())
	if e := resnet.RelErr([]float32{nan, 1}, []float32{1, 1}); !math.IsNaN(e) {
		t.Errorf("RelErr with a NaN = %v, want NaN", e)
	}
}

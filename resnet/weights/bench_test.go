package weights

import (
	"bytes"
	"os"
	"testing"
)

func BenchmarkLoad(b *testing.B) {
	for _, name := range fixtures {
		data, err := os.ReadFile(testdata + name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name[4:], func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := loadFrom(name, bytes.NewReader(data), int64(len(data))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

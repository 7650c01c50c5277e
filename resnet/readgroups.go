package resnet

import (
	"runtime"
	"sync"
)

// ReadGroups reads items on a pool of GOMAXPROCS goroutines, a group at a
// time, and calls use with each group's values and errors, in group order,
// on the calling goroutine: groups[g] lists the items of group g, and
// read(i) makes item i. The pool reads up to ahead groups beyond the one
// use has, and a group keeps its place until use returns, so at most
// ahead+1 groups of values are held (see ReadAhead). The first error use
// returns stops the reads and is returned. classify's and finetune's
// input pipelines read through it.
func ReadGroups[T any](groups [][]int, ahead int, read func(i int) (T, error), use func(g int, xs []T, errs []error) error) error {
	type group struct {
		xs    []T
		errs  []error
		ready sync.WaitGroup
	}
	type job struct {
		g *group
		k int // in g
		i int // the item
	}
	jobs := make(chan job)
	// A group takes a token before its reads start and gives it back once
	// used.
	tokens := make(chan struct{}, ahead+1)
	queue := make(chan *group, ahead+1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.g.xs[j.k], j.g.errs[j.k] = read(j.i)
				j.g.ready.Done()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(queue)
		defer close(jobs)
		for _, items := range groups {
			select {
			case tokens <- struct{}{}:
			case <-stop:
				return
			}
			g := &group{xs: make([]T, len(items)), errs: make([]error, len(items))}
			g.ready.Add(len(items))
			queue <- g // never blocks: it holds at most as many groups as there are tokens
			for k, i := range items {
				select {
				case jobs <- job{g, k, i}:
				case <-stop:
					return
				}
			}
		}
	}()
	n := 0
	for g := range queue {
		g.ready.Wait()
		if err := use(n, g.xs, g.errs); err != nil {
			return err
		}
		n++
		<-tokens
	}
	return nil
}

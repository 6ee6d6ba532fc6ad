package ui

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// broadcaster tells every open page that something changed. Each
// subscriber has room for one pending change: changes that come faster than
// a page reads them coalesce.
type broadcaster struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

func newBroadcaster() *broadcaster { return &broadcaster{subs: map[chan struct{}]struct{}{}} }

func (b *broadcaster) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}

func (b *broadcaster) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Watch watches SparkJobs and JobSources until ctx ends, and tells the open
// pages of every change. A watch that ends or fails is listed and watched
// again, after a back-off while it keeps failing.
func (s *Server) Watch(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, list := range []client.ObjectList{&v1alpha1.SparkJobList{}, &v1alpha1.JobSourceList{}} {
		wg.Go(func() { s.watchLoop(ctx, list) })
	}
	wg.Wait()
	return nil
}

func (s *Server) watchLoop(ctx context.Context, list client.ObjectList) {
	backoff := time.Second
	for ctx.Err() == nil {
		err := s.watchOnce(ctx, list)
		if err == nil {
			backoff = time.Second
			continue
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("watch failed; retrying", "kind", fmt.Sprintf("%T", list), "error", err, "retryIn", backoff.String())
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// watchOnce lists (so a change missed while no watch ran is shown), then
// watches from the list's resource version until the watch ends.
func (s *Server) watchOnce(ctx context.Context, list client.ObjectList) error {
	if err := s.reader.List(ctx, list, client.InNamespace(s.namespace)); err != nil {
		return err
	}
	s.events.notify()
	raw := &metav1.ListOptions{ResourceVersion: list.GetResourceVersion(), AllowWatchBookmarks: true}
	w, err := s.reader.Watch(ctx, list, client.InNamespace(s.namespace), &client.ListOptions{Raw: raw})
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			switch ev.Type {
			case watch.Error:
				return apierrors.FromObject(ev.Object)
			case watch.Bookmark:
			default:
				s.events.notify()
			}
		}
	}
}

// heartbeat keeps an idle event stream open through proxies.
const heartbeat = 25 * time.Second

// serveEvents streams a "change" event whenever a SparkJob or JobSource
// changed; the page then reads itself again.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	changes, cancel := s.events.subscribe()
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := fmt.Fprint(w, "retry: 2000\nevent: ready\ndata: ok\n\n"); err != nil {
		return
	}
	flusher.Flush()
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-changes:
			_, err = fmt.Fprint(w, "event: change\ndata: changed\n\n")
		case <-tick.C:
			_, err = fmt.Fprint(w, ": heartbeat\n\n")
		}
		if err != nil {
			return
		}
		flusher.Flush()
	}
}

package ui

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// maxLogBytes bounds the log a run page reads.
const maxLogBytes = 256 << 10

// PodLogs reads container logs through the API server (get pods/log).
type PodLogs struct {
	Clientset kubernetes.Interface
}

var _ LogReader = PodLogs{}

// TailLog returns the last lines of the container's log, at most
// maxLogBytes.
func (p PodLogs) TailLog(ctx context.Context, namespace, pod, container string, lines int64) (string, error) {
	limit := int64(maxLogBytes)
	b, err := p.Clientset.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container, TailLines: &lines, LimitBytes: &limit}).DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("unable to read the log of pod '%s/%s': %w", namespace, pod, err)
	}
	return string(b), nil
}

package runid

import (
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func TestRunName(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		name        string
		job, suffix string
		want        string
	}{
		{name: "plain", job: "spark-pi", suffix: "1a2b3c4d", want: "spark-pi-1a2b3c4d"},
		{name: "max job name", job: strings.Repeat("j", MaxJobNameLength), suffix: "0123456789",
			want: strings.Repeat("j", MaxJobNameLength) + "-0123456789"},
		{name: "long job is cut", job: long, suffix: "1a2b3c4d", want: strings.Repeat("a", 38) + "-1a2b3c4d"},
		{name: "dots", job: "team.etl", suffix: "29000000", want: "team-etl-29000000"},
		{name: "cut at dash", job: strings.Repeat("a", 37) + "-b", suffix: "1a2b3c4d", want: strings.Repeat("a", 37) + "-1a2b3c4d"},
		{name: "leading digit", job: "1job", suffix: "x", want: "r1job-x"},
		{name: "upper case", job: "Nightly", suffix: "ABC", want: "nightly-abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RunName(tt.job, tt.suffix)
			if got != tt.want {
				t.Errorf("RunName(%q, %q) = %q, want %q", tt.job, tt.suffix, got, tt.want)
			}
			if len(got) > MaxRunNameLength {
				t.Errorf("RunName() = %q, %d characters, want at most %d", got, len(got), MaxRunNameLength)
			}
			for _, n := range []string{got, DriverPodName(got), ServiceName(got, AppID("ns", got)), ConfigMapName(got), IngressName(got)} {
				if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
					t.Errorf("%q is not a DNS-1035 label: %v", n, errs)
				}
			}
		})
	}
}

func TestAppID(t *testing.T) {
	id := AppID("spark", "pi-1a2b3c4d")
	if !regexp.MustCompile(`^spark-[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("AppID() = %q, want spark- and 32 lowercase hex", id)
	}
	if again := AppID("spark", "pi-1a2b3c4d"); again != id {
		t.Errorf("AppID() = %q then %q, want the same", id, again)
	}
	if other := AppID("other", "pi-1a2b3c4d"); other == id {
		t.Errorf("AppID() is %q in two namespaces", id)
	}
}

func TestServiceNameFallback(t *testing.T) {
	run := strings.Repeat("r", 60)
	got := ServiceName(run, "spark-0123456789abcdef0123456789abcdef")
	if want := "spark-0123456789abcdef-driver-svc"; got != want {
		t.Errorf("ServiceName() = %q, want %q", got, want)
	}
}

func TestScheduledRunName(t *testing.T) {
	tick := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	got := ScheduledRunName("nightly", tick)
	if want := "nightly-29538900"; got != want {
		t.Errorf("ScheduledRunName() = %q, want %q", got, want)
	}
	if again := ScheduledRunName("nightly", tick.In(time.FixedZone("x", 3600)).Add(30*time.Second)); again != got {
		t.Errorf("ScheduledRunName() within the same minute = %q, want %q", again, got)
	}
}

func TestOfflineRun(t *testing.T) {
	job := &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Name: "spark-pi", Namespace: "spark"},
		Spec:       v1alpha1.SparkJobSpec{Type: v1alpha1.ScalaApplication},
	}
	run := OfflineRun(job, "main@sha1:abc")
	hash := SpecHash(job)
	want := Identity{
		Name:     "spark-pi-" + hash[:8],
		AppID:    AppID("spark", "spark-pi-"+hash[:8]),
		Revision: "main@sha1:abc",
		Trigger:  v1alpha1.TriggerCommit,
		SpecHash: hash,
	}
	if run != want {
		t.Errorf("OfflineRun() = %+v, want %+v", run, want)
	}
}

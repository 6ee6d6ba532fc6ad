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
		{name: "longest uncut job name", job: strings.Repeat("j", MaxUncutJobNameLength), suffix: "0123456789",
			want: strings.Repeat("j", MaxUncutJobNameLength) + "-0123456789"},
		// A job name that fits with this suffix is not cut, so the runs of
		// existing jobs keep their names.
		{name: "38 characters fit an 8-character suffix", job: strings.Repeat("b", 38), suffix: "1a2b3c4d",
			want: strings.Repeat("b", 38) + "-1a2b3c4d"},
		{name: "long job is cut and hashed", job: long, suffix: "1a2b3c4d",
			want: strings.Repeat("a", 29) + "-" + DigestOf("job-name", long)[:8] + "-1a2b3c4d"},
		{name: "63 characters", job: strings.Repeat("c", 63), suffix: "m123456789",
			want: strings.Repeat("c", 27) + "-" + DigestOf("job-name", strings.Repeat("c", 63))[:8] + "-m123456789"},
		{name: "dots", job: "team.etl", suffix: "29000000", want: "team-etl-29000000"},
		{name: "cut at dash", job: strings.Repeat("a", 28) + "-" + strings.Repeat("b", 20), suffix: "1a2b3c4d",
			want: strings.Repeat("a", 28) + "-" + DigestOf("job-name", strings.Repeat("a", 28)+"-"+strings.Repeat("b", 20))[:8] + "-1a2b3c4d"},
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

// TestRunNameLongJobs checks every job length the Spark Operator accepts
// with every kind of suffix: each derived name is within its limit, and two
// jobs whose names differ only past the cut never share a run name.
func TestRunNameLongJobs(t *testing.T) {
	tick := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	for n := 1; n <= MaxJobNameLength; n++ {
		job := "j" + strings.Repeat("x", n-1)
		other := job[:n-1] + "y"
		for _, suffix := range []string{"1a2b3c4d", "m123456789", "r123456789"} {
			run := RunName(job, suffix)
			if len(run) > MaxRunNameLength {
				t.Errorf("RunName(%d characters, %q) = %q, %d characters, want at most %d", n, suffix, run, len(run), MaxRunNameLength)
			}
			if n > 1 && RunName(other, suffix) == run {
				t.Errorf("jobs %q and %q share the run %q", job, other, run)
			}
			if n <= MaxRunNameLength-1-len(suffix) && run != job+"-"+suffix {
				t.Errorf("RunName(%q, %q) = %q, want the job name whole", job, suffix, run)
			}
			for _, name := range []string{run, DriverPodName(run), ServiceName(run, AppID("ns", run)), ConfigMapName(run), IngressName(run)} {
				if errs := validation.IsDNS1035Label(name); len(errs) > 0 {
					t.Errorf("%q is not a DNS-1035 label: %v", name, errs)
				}
			}
			if ServiceName(run, AppID("ns", run)) != run+"-driver-svc" {
				t.Errorf("the service of %q falls back to Spark's short form", run)
			}
		}
		if run := ScheduledRunName(job, tick); len(run) > MaxRunNameLength {
			t.Errorf("ScheduledRunName(%d characters) = %q, too long", n, run)
		}
	}
}

func TestPodGroupNameFallback(t *testing.T) {
	if got := PodGroupName("pi-0123abcd", "spark-0123456789abcdef0123456789abcdef"); got != "pi-0123abcd-pg" {
		t.Errorf("PodGroupName() = %q", got)
	}
	got := PodGroupName(strings.Repeat("r", 62), "spark-0123456789abcdef0123456789abcdef")
	if want := "spark-0123456789abcdef-pg"; got != want {
		t.Errorf("PodGroupName() = %q, want %q", got, want)
	}
}

// Command bench times sparkcd's rendering against the kustomize CLI on
// generated jobs repositories and prints a table of ratios and targets.
//
//	go run ./hack/bench -sparkcd bin/sparkcd -kustomize bin/kustomize-v5.8.2
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
}

// outcome is a case's median time, or why it has none. cpu is the median
// processor time (user and system) of the bench process and the commands
// it ran: on a shared machine its ratios move far less than wall time's.
type outcome struct {
	wall, cpu time.Duration
	err       error
}

func run() error {
	var e env
	var only string
	var repeat int
	var keep bool
	flag.StringVar(&e.sparkcd, "sparkcd", "bin/sparkcd", "path of the sparkcd binary")
	flag.StringVar(&e.kustomize, "kustomize", "bin/kustomize-v5.8.2", "path of the kustomize binary")
	flag.StringVar(&e.policies, "policies", "policies/testdata/examples", "directory of the AllocationPolicy files check and diff use")
	flag.IntVar(&e.jobs, "jobs", 1000, "jobs in the generated repositories (the large per-job one has 5×)")
	flag.StringVar(&only, "only", "", "run only the cases whose name matches this regular expression (and what they compare with)")
	flag.IntVar(&repeat, "repeat", 3, "timings per case; the median is reported")
	flag.BoolVar(&keep, "keep", false, "keep the generated repositories")
	flag.Parse()
	filter, err := regexp.Compile(only)
	if err != nil {
		return fmt.Errorf("bad -only: %w", err)
	}
	if e.jobs < 1 || repeat < 1 {
		return fmt.Errorf("-jobs and -repeat must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	e.dir, err = os.MkdirTemp("", "sparkcd-bench-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintln(os.Stderr, "repositories in", e.dir)
	} else {
		defer os.RemoveAll(e.dir)
	}
	if e.policies, err = filepath.Abs(e.policies); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generating %d jobs in two layouts\n", e.jobs)
	if err := generateSingle(e.single(), e.jobs); err != nil {
		return err
	}
	if err := generatePerJob(e.perJob(), e.jobs); err != nil {
		return err
	}

	cases := selectCases(e.cases(), filter)
	results := map[string]outcome{}
	for _, c := range cases {
		fmt.Fprintf(os.Stderr, "%s…\n", c.name)
		results[c.name] = measure(ctx, c, repeat)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	printTable(cases, results)
	return nil
}

// selectCases keeps the matching cases and, before them, the cases they
// compare with.
func selectCases(all []benchCase, filter *regexp.Regexp) []benchCase {
	want := map[string]bool{}
	for i := len(all) - 1; i >= 0; i-- {
		if filter.MatchString(all[i].name) || want[all[i].name] {
			want[all[i].name] = true
			if all[i].ref != "" {
				want[all[i].ref] = true
			}
		}
	}
	return slices.DeleteFunc(slices.Clone(all), func(c benchCase) bool { return !want[c.name] })
}

// measure runs a case repeat times and returns the median wall time.
func measure(ctx context.Context, c benchCase, repeat int) outcome {
	if c.setup != nil {
		if err := c.setup(ctx); err != nil {
			return outcome{err: fmt.Errorf("setup: %w", err)}
		}
	}
	var times, cpus []time.Duration
	for rep := range repeat {
		if c.prepare != nil {
			if err := c.prepare(rep); err != nil {
				return outcome{err: fmt.Errorf("prepare: %w", err)}
			}
		}
		cpu0, start := cpuTime(), time.Now()
		if err := c.run(ctx); err != nil {
			return outcome{err: err}
		}
		times = append(times, time.Since(start))
		cpus = append(cpus, cpuTime()-cpu0)
	}
	slices.Sort(times)
	slices.Sort(cpus)
	return outcome{wall: times[len(times)/2], cpu: cpus[len(cpus)/2]}
}

// cpuTime is the processor time used so far by this process and the
// children it waited for.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

func printTable(cases []benchCase, results map[string]outcome) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "case\twall\tratio\tcpu\tcpu ratio\ttarget\tresult")
	for _, c := range cases {
		r := results[c.name]
		if r.err != nil {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t%s\tERROR: %v\n", c.name, targetText(c), r.err)
			continue
		}
		ratio, cpuRatio, verdict := "-", "-", "reference"
		if c.ref != "" {
			verdict = "-"
			if ref := results[c.ref]; ref.err == nil && ref.wall > 0 {
				x := float64(r.wall) / float64(ref.wall)
				ratio = fmt.Sprintf("%.3f", x)
				switch {
				case c.target == 0:
					verdict = "floor"
				case x > c.target:
					verdict = "MISS"
				default:
					verdict = "PASS"
				}
				if ref.cpu > 0 {
					cpuRatio = fmt.Sprintf("%.3f", float64(r.cpu)/float64(ref.cpu))
				}
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.name, r.wall.Round(time.Millisecond), ratio,
			r.cpu.Round(time.Millisecond), cpuRatio, targetText(c), verdict)
	}
	w.Flush()
}

func targetText(c benchCase) string {
	if c.ref == "" {
		return "-"
	}
	if c.target == 0 {
		return "(floor) × " + c.ref
	}
	return fmt.Sprintf("≤ %g × %s", c.target, c.ref)
}

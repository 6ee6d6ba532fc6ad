// Command sparkcd is GitOps for Apache Spark on Kubernetes: it renders,
// checks and diffs Spark job specs offline, and reconciles them into a
// cluster. This package only parses flags and wires the other packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes, the same for every command.
const (
	exitOK       = 0
	exitFindings = 1
	exitInput    = 2
)

// exitError carries the exit code a failure maps to.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func inputError(err error) error    { return &exitError{code: exitInput, err: err} }
func findingsError(err error) error { return &exitError{code: exitFindings, err: err} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the CLI and maps the outcome to an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "sparkcd:", ee.err)
		}
		return ee.code
	}
	// Anything cobra itself rejects (unknown flag, wrong arguments) is usage.
	fmt.Fprintln(stderr, "sparkcd:", err)
	return exitInput
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "sparkcd",
		Short: "GitOps for Apache Spark on Kubernetes",
		Long: `sparkcd pulls Spark job specs from git, builds them with kustomize overlays,
enforces the platform's dynamic-allocation policies, creates each run's driver
pod, executor pod template, Spark configuration and driver service itself,
starts runs on commit and on schedules, and cleans up finished drivers.

Exit codes: 0 success, 1 findings, 2 bad input or usage.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newRenderCommand(),
		newCheckCommand(),
		newDiffCommand(),
		newServeCommand(),
		newRunCommand(),
		newStatusCommand(),
		newCleanupCommand(),
		newReconcileCommand(),
		newSuspendCommand(true),
		newSuspendCommand(false),
		newLogsCommand(),
		newUICommand(),
		newHistoryCommand(),
		newVersionCommand(),
	)
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of sparkcd",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "sparkcd %s\n", version)
			return err
		},
	}
}

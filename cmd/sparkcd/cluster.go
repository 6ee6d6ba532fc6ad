package main

import (
	"context"
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"log/slog"
	"os"
	"strings"

	"github.com/go-logr/logr"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// clusterFlags are the flags of every command that talks to a cluster.
type clusterFlags struct {
	kubeconfig string
	context    string
	namespace  string
}

func (f *clusterFlags) bind(cmd *cobra.Command, withNamespace bool) {
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else the in-cluster configuration)")
	cmd.Flags().StringVar(&f.context, "context", "", "kubeconfig context to use")
	if withNamespace {
		cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "namespace (default: the kubeconfig context's)")
	}
}

// loader is the kubeconfig the flags select; it falls back to the in-cluster
// configuration when no kubeconfig file exists.
func (f *clusterFlags) loader() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if f.kubeconfig != "" {
		rules.ExplicitPath = f.kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.context}
	if f.namespace != "" {
		overrides.Context.Namespace = f.namespace
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// restConfig returns the client configuration. A kubeconfig that cannot be
// read is bad input (exit code 2).
func (f *clusterFlags) restConfig() (*rest.Config, error) {
	cfg, err := f.loader().ClientConfig()
	if err != nil {
		return nil, inputError(fmt.Errorf("unable to load the cluster configuration: %w", err))
	}
	cfg.UserAgent = "sparkcd/" + version
	return cfg, nil
}

// targetNamespace is -n, else the kubeconfig context's namespace, else
// "default".
func (f *clusterFlags) targetNamespace() string {
	ns, _, err := f.loader().Namespace()
	if err != nil || ns == "" {
		return "default"
	}
	return ns
}

// client returns an uncached client with sparkcd's scheme.
func (f *clusterFlags) client() (client.Client, error) {
	cfg, err := f.restConfig()
	if err != nil {
		return nil, err
	}
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("unable to create a client: %w", err)
	}
	return c, nil
}

// envPrefix prefixes the environment variables that set flags.
const envPrefix = "SPARKCD_"

// flagsFromEnv sets every flag of cmd not given on the command line from
// SPARKCD_<FLAG_NAME> (upper case, dashes as underscores), so a ConfigMap
// can configure a Deployment through envFrom. The command line wins.
func flagsFromEnv(cmd *cobra.Command) error {
	var errs []string
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Changed {
			return
		}
		key := envPrefix + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		v, ok := os.LookupEnv(key)
		if !ok {
			return
		}
		if err := cmd.Flags().Set(fl.Name, v); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", key, err))
		}
	})
	if len(errs) > 0 {
		return inputError(fmt.Errorf("invalid environment: %s", strings.Join(errs, "; ")))
	}
	return nil
}

// logFlags select the structured logger of the long-running commands.
type logFlags struct {
	format string
	level  string
}

func (f *logFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.format, "log-format", "json", "log format: json or text")
	cmd.Flags().StringVar(&f.level, "log-level", "info", "log level: debug, info, warn or error")
}

// logger returns one slog logger, and the logr view controller-runtime
// takes, both writing to stderr.
func (f *logFlags) logger(cmd *cobra.Command) (*slog.Logger, logr.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.level)); err != nil {
		return nil, logr.Logger{}, inputError(fmt.Errorf("invalid --log-level '%s': %w", f.level, err))
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch f.format {
	case "json":
		h = slog.NewJSONHandler(cmd.ErrOrStderr(), opts)
	case "text":
		h = slog.NewTextHandler(cmd.ErrOrStderr(), opts)
	default:
		return nil, logr.Logger{}, inputError(fmt.Errorf("invalid --log-format '%s': want json or text", f.format))
	}
	return slog.New(h), logr.FromSlogHandler(h), nil
}

// watchClient returns an uncached client that can also watch.
func (f *clusterFlags) watchClient() (client.WithWatch, error) {
	cfg, err := f.restConfig()
	if err != nil {
		return nil, err
	}
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("unable to create a client: %w", err)
	}
	return c, nil
}

// getJob reads the SparkJob NAME of the target namespace, with the client
// it used; a job that does not exist is bad input (exit 2).
func (f *clusterFlags) getJob(ctx context.Context, name string) (client.Client, *v1alpha1.SparkJob, error) {
	c, err := f.client()
	if err != nil {
		return nil, nil, err
	}
	key := types.NamespacedName{Namespace: f.targetNamespace(), Name: name}
	job := &v1alpha1.SparkJob{}
	if err := c.Get(ctx, key, job); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, inputError(fmt.Errorf("no SparkJob '%s'", key))
		}
		return nil, nil, err
	}
	return c, job, nil
}

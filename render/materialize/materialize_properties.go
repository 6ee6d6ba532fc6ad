package materialize

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
	"github.com/sparkcd/sparkcd/runid"
)

// addRunProperties adds what depends on the run and on sparkcd creating the
// objects itself, as spark-submit's feature steps add them: master, app id,
// driver pod name, driver host and ports, the executor pod template.
func (m *materializer) addRunProperties() {
	p := m.props
	p[sparkconf.KeyMaster] = m.opts.MasterURL
	p[sparkconf.KeyAppID] = m.id.AppID
	p[sparkconf.KeyNamespace] = m.job.Namespace
	p[sparkconf.KeyDriverPodName] = m.podName
	p[sparkconf.KeyDriverHost] = m.serviceName + "." + m.job.Namespace + ".svc"
	p[sparkconf.KeyDriverPort] = strconv.Itoa(sparkconf.DefaultDriverPort)
	p[sparkconf.KeyDriverBlockManagerPort] = strconv.Itoa(sparkconf.DefaultBlockManagerPort)
	p[sparkconf.KeyExecutorPodTemplateFile] = podTemplatePath
	p[sparkconf.KeyExecutorContainerName] = executorContainerName
	p[sparkconf.KeyExecutorPodNamePrefix] = ExecutorPodNamePrefix(m.job.Spec.SparkConf[sparkconf.KeyExecutorPodNamePrefix], m.id.Name)
	// HadoopConfDriverFeatureStep hands an existing Hadoop ConfigMap on to
	// the executors under this key.
	if name := m.hadoopConfMapName(); name != "" {
		p[keyExecutorHadoopConfigMapName] = name
	}
	if base := m.uiProxyBase(); base != "" {
		p[sparkconf.KeyUIProxyBase] = base
		p[sparkconf.KeyUIProxyRedirectURI] = m.uiRedirectURI()
	}
}

// ExecutorPodNamePrefix is spark.kubernetes.executor.podNamePrefix of a
// run. Executors are named "<prefix>-exec-<id>" and every run's ids start at
// 1, so the prefix must differ per run, or the executors of two runs (the
// previous one's kept by deleteOnTermination: false, or concurrent ones)
// would collide. Without a prefix of the job's it is the run name
// ("<job>-<suffix>"), rather than Spark's "<app name>-<random>"; with one,
// the run's suffix is replaced by 8 hex characters of the run name:
// "<prefix>-<hash>", at most 47 characters as Spark requires.
func ExecutorPodNamePrefix(jobPrefix, run string) string {
	jobPrefix = strings.TrimSpace(jobPrefix)
	if jobPrefix == "" {
		return run
	}
	return runid.RunName(jobPrefix, runid.DigestOf("executor-prefix", run)[:8])
}

// intProperty reads an int property with a default.
func (m *materializer) intProperty(key string, def int32) (int32, error) {
	v, ok := m.props[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return 0, confErrorf(key, "'%s' must be a port number, found '%s'", key, v)
	}
	return int32(n), nil
}

// prefixed returns the properties under a prefix, the prefix cut off.
func (m *materializer) prefixed(prefix string) map[string]string {
	var out map[string]string
	for k, v := range m.props {
		if name, ok := strings.CutPrefix(k, prefix); ok && name != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = v
		}
	}
	return out
}

// ingressPath is sparkUIOptions.ingressPath with {{namespace}}, {{job}} and
// {{run}} (and the Spark Operator's {{$appNamespace}}, {{$appName}})
// replaced, without a trailing slash; "/" when there is no prefix.
func (m *materializer) ingressPath() string {
	ui := m.job.Spec.SparkUIOptions
	if ui == nil {
		return "/"
	}
	path := strings.NewReplacer(
		"{{namespace}}", m.job.Namespace, "{{$appNamespace}}", m.job.Namespace,
		"{{job}}", m.job.Name, "{{$appName}}", m.job.Name,
		"{{run}}", m.id.Name,
	).Replace(strings.TrimSpace(ui.IngressPath))
	path = "/" + strings.Trim(path, "/")
	return path
}

// uiProxyBase is spark.ui.proxyBase: the ingress path prefix, if any.
func (m *materializer) uiProxyBase() string {
	ui := m.job.Spec.SparkUIOptions
	if ui == nil || ui.IngressHost == "" {
		return ""
	}
	if p := m.ingressPath(); p != "/" {
		return p
	}
	return ""
}

// uiRedirectURI is spark.ui.proxyRedirectUri: the proxy's address without
// the prefix, https when a TLS entry covers the host.
func (m *materializer) uiRedirectURI() string {
	ui := m.job.Spec.SparkUIOptions
	scheme := "http"
	for _, tls := range ui.IngressTLS {
		for _, h := range tls.Hosts {
			if h == ui.IngressHost {
				scheme = "https"
			}
		}
	}
	return (&url.URL{Scheme: scheme, Host: ui.IngressHost}).String()
}

// encodeProperties writes properties as java.util.Properties.store does,
// with sorted keys and no date line, so the file is deterministic.
func encodeProperties(props map[string]string, comment string) string {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("#" + escapeProperty(comment, false) + "\n")
	for _, k := range keys {
		b.WriteString(escapeProperty(k, true))
		b.WriteByte('=')
		b.WriteString(escapeProperty(props[k], false))
		b.WriteByte('\n')
	}
	return b.String()
}

// escapeProperty escapes as Properties.saveConvert: backslash, the
// separators and comment characters, control characters, every space in a
// key but only a leading space in a value, and non-ASCII as \uXXXX.
func escapeProperty(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch r {
		case ' ':
			if key || i == 0 {
				b.WriteString(`\ `)
			} else {
				b.WriteByte(' ')
			}
		case '\\':
			b.WriteString(`\\`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '=', ':', '#', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			if r < 0x20 || r > 0x7e {
				for _, u := range utf16.Encode([]rune{r}) {
					fmt.Fprintf(&b, `\u%04X`, u)
				}
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// log4j2Properties is the log4j2.properties of a log level: Spark's
// log4j2.properties.template with the root level replaced. An empty level
// writes no file, and Spark's built-in log4j2-defaults.properties (INFO to
// the console) applies, exactly as when spark-submit finds no
// log4j2.properties to ship.
func log4j2Properties(level v1alpha1.LogLevel) string {
	if level == "" {
		return ""
	}
	return `# log4j2.properties written by sparkcd from spec.logLevel.
rootLogger.level = ` + strings.ToLower(string(level)) + `
rootLogger.appenderRef.stdout.ref = console

appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
`
}

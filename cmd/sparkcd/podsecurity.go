package main

import (
	"github.com/spf13/cobra"

	"github.com/sparkcd/sparkcd/admission"
)

// bindPodSecurity adds --pod-security-level to an offline command.
func bindPodSecurity(cmd *cobra.Command, level *string) {
	cmd.Flags().StringVar(level, "pod-security-level", "",
		"judge every driver and executor pod against this Pod Security Standards level, as the target namespace's pod-security.kubernetes.io/enforce label would: privileged, baseline or restricted, optionally :v1.N (default: none; policies may set one with spec.podSecurity)")
}

// parsePodSecurity reads --pod-security-level; "" is none. The level
// stands for the target namespaces' own.
func parsePodSecurity(s string) (*admission.PodSecurityLevel, error) {
	if s == "" {
		return nil, nil
	}
	lv, err := admission.ParsePodSecurityLevel(s)
	if err != nil {
		return nil, inputError(err)
	}
	return &admission.PodSecurityLevel{LevelVersion: lv, Source: "the namespace's"}, nil
}

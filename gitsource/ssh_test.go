package gitsource

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

func TestCheckoutSSH(t *testing.T) {
	u := newUpstream(t)
	head := u.commit(t, "one\n")
	u.git(t, "push", "-q", "origin", "main")
	hostKey, _ := gittest.NewSSHKey(t, "")
	otherHost, _ := gittest.NewSSHKey(t, "")
	client, identity := gittest.NewSSHKey(t, "")
	_, stranger := gittest.NewSSHKey(t, "")
	encClient, encIdentity := gittest.NewSSHKey(t, "key-passphrase")
	srv := gittest.StartSSH(t, u.root, hostKey, client.PublicKey())
	encSrv := gittest.StartSSH(t, u.root, hostKey, encClient.PublicKey())

	tests := []struct {
		name    string
		srv     *gittest.SSHServer
		secret  map[string][]byte
		opts    []Option
		wantErr string // substring of the error; empty for success
	}{
		{name: "known_hosts", srv: srv, secret: map[string][]byte{
			"identity": identity, "known_hosts": gittest.KnownHostsLine(srv.Addr(), hostKey.PublicKey()),
		}},
		{name: "encrypted key", srv: encSrv, secret: map[string][]byte{
			"identity": encIdentity, "password": []byte("key-passphrase"),
			"known_hosts": gittest.KnownHostsLine(encSrv.Addr(), hostKey.PublicKey()),
		}},
		{name: "wrong host key is refused", srv: srv, secret: map[string][]byte{
			"identity": identity, "known_hosts": gittest.KnownHostsLine(srv.Addr(), otherHost.PublicKey()),
		}, wantErr: "key mismatch"},
		{name: "host not in known_hosts is refused", srv: srv, secret: map[string][]byte{
			"identity": identity, "known_hosts": gittest.KnownHostsLine("127.0.0.2:22", hostKey.PublicKey()),
		}, wantErr: "key is unknown"},
		{name: "insecure skips the host key", srv: srv, secret: map[string][]byte{
			"identity": identity,
		}, opts: []Option{WithInsecureSkipHostKeyCheck()}},
		{name: "unknown client key", srv: srv, secret: map[string][]byte{
			"identity": stranger, "known_hosts": gittest.KnownHostsLine(srv.Addr(), hostKey.PublicKey()),
		}, wantErr: "unable to authenticate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := fmt.Sprintf("ssh://git@%s/jobs.git", tt.srv.Addr())
			opts := append([]Option{WithAuth(tt.secret), WithTimeout(10 * time.Second)}, tt.opts...)
			c, err := New(url, t.TempDir(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Checkout(t.Context(), Ref{Branch: "main"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "key-passphrase") {
					t.Errorf("error leaks the passphrase: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := "main@sha1:" + head; got.Revision.String() != want {
				t.Errorf("revision = %s, want %s", got.Revision, want)
			}
			if job := readJob(t, got); job != "one\n" {
				t.Errorf("job.yaml = %q", job)
			}
		})
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	_, identity := gittest.NewSSHKey(t, "")
	_, encIdentity := gittest.NewSSHKey(t, "right-phrase")
	hostKey, _ := gittest.NewSSHKey(t, "")
	known := gittest.KnownHostsLine("127.0.0.1:22", hostKey.PublicKey())
	tests := []struct {
		name   string
		url    string
		secret map[string][]byte
		want   error
	}{
		{name: "ssh without known_hosts", url: "ssh://git@127.0.0.1/jobs.git",
			secret: map[string][]byte{"identity": identity}, want: ErrMissingKnownHosts},
		{name: "ssh without identity", url: "ssh://git@127.0.0.1/jobs.git",
			secret: map[string][]byte{"known_hosts": known}, want: ErrInvalidAuth},
		{name: "ssh key that is not a key", url: "ssh://git@127.0.0.1/jobs.git",
			secret: map[string][]byte{"identity": []byte("nope"), "known_hosts": known}, want: ErrInvalidAuth},
		{name: "encrypted key with a wrong passphrase", url: "ssh://git@127.0.0.1/jobs.git",
			secret: map[string][]byte{"identity": encIdentity, "password": []byte("wrong-phrase"), "known_hosts": known}, want: ErrInvalidAuth},
		{name: "token and basic together", url: "https://127.0.0.1/jobs.git", secret: map[string][]byte{
			"bearerToken": []byte("tok-tok-tok"), "username": []byte("u"), "password": []byte("p-p-p-p"),
		}, want: ErrInvalidAuth},
		{name: "password without username", url: "https://127.0.0.1/jobs.git",
			secret: map[string][]byte{"password": []byte("p-p-p-p")}, want: ErrInvalidAuth},
		{name: "ca.crt that is not PEM", url: "https://127.0.0.1/jobs.git",
			secret: map[string][]byte{"ca.crt": []byte("junk")}, want: ErrInvalidAuth},
		{name: "file url", url: "file:///srv/jobs.git", want: ErrUnsupportedURL},
		{name: "git protocol", url: "git://127.0.0.1/jobs.git", want: ErrUnsupportedURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.url, t.TempDir(), WithAuth(tt.secret))
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			for _, s := range []string{"wrong-phrase", "tok-tok-tok", "p-p-p-p"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error leaks a secret: %v", err)
				}
			}
		})
	}
}

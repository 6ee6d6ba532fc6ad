package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// kueueCerts are the CA and serving certificate seeded into Kueue's
// certificate Secret, in the shape its cert rotator
// (open-policy-agent/cert-controller) keeps and accepts as valid: an RSA
// CA in PKCS #1, valid for the name "kueue-ca", and a serving certificate
// valid for the webhook Service's DNS name, both well past the rotator's
// 90-day look-ahead. The serving certificate is also valid for 127.0.0.1,
// the address the API server calls the webhooks at.
type kueueCerts struct {
	caPEM, caKeyPEM []byte
	certPEM, keyPEM []byte
}

// kueueCAName is the CA name Kueue's rotator checks its CA against.
const kueueCAName = "kueue-ca"

func newKueueCerts(dnsName string) (*kueueCerts, error) {
	notBefore := time.Now().Add(-time.Hour)
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("unable to generate Kueue's CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: kueueCAName, Organization: []string{"kueue"}},
		DNSNames:              []string{kueueCAName},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, ca, err := selfSign(caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("unable to generate Kueue's serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("unable to sign Kueue's serving certificate: %w", err)
	}
	return &kueueCerts{
		caPEM:    pemCert(caDER),
		caKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(caKey)}),
		certPEM:  pemCert(der),
		keyPEM:   pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	}, nil
}

// write puts the Secret's files into dir, as a mounted Secret would.
func (c *kueueCerts) write(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("unable to create '%s': %w", dir, err)
	}
	for name, data := range map[string][]byte{"ca.crt": c.caPEM, "tls.crt": c.certPEM, "tls.key": c.keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("unable to write '%s': %w", name, err)
		}
	}
	return nil
}

package main

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckTarget(t *testing.T) {
	tests := []struct {
		url         string
		allowRemote bool
		wantErr     error // nil: accepted; errRemoteTarget: refused as remote; errOther: refused otherwise
	}{
		{"http://127.0.0.1:8080/dashboard/x", false, nil},
		{"http://127.1.2.3/", false, nil},
		{"https://[::1]:8443/", false, nil},
		{"http://[::ffff:127.0.0.1]/", false, nil},
		{"http://localhost:8080/", false, nil},
		{"http://LocalHost/", false, nil},
		{"http://10.0.0.1/", false, errRemoteTarget},
		{"http://192.0.2.1:8080/", false, errRemoteTarget},
		{"http://0.0.0.0:8080/", false, errRemoteTarget},
		{"http://[::2]/", false, errRemoteTarget},
		{"http://example.com/", false, errRemoteTarget},
		{"http://localhost.example.com/", false, errRemoteTarget},
		{"http://127.0.0.1.nip.io/", false, errRemoteTarget},
		{"http://example.com/", true, nil},
		{"http://10.0.0.1/", true, nil},
		{"ftp://127.0.0.1/", false, errOther},
		{"127.0.0.1:8080", false, errOther},
		{"http:///path", false, errOther},
		{"ftp://example.com/", true, errOther},
	}
	for _, tt := range tests {
		err := checkTarget(tt.url, tt.allowRemote)
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("checkTarget(%q, %v) = %v, want accepted", tt.url, tt.allowRemote, err)
		case tt.wantErr == errRemoteTarget && !errors.Is(err, errRemoteTarget):
			t.Errorf("checkTarget(%q, %v) = %v, want refusal as remote", tt.url, tt.allowRemote, err)
		case tt.wantErr == errOther && (err == nil || errors.Is(err, errRemoteTarget)):
			t.Errorf("checkTarget(%q, %v) = %v, want an invalid-URL error", tt.url, tt.allowRemote, err)
		}
	}
}

// errOther marks a wanted error that is not errRemoteTarget.
var errOther = errors.New("other error")

func TestDialLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:80":          true,
		"127.9.9.9:80":          true,
		"[::1]:80":              true,
		"[::ffff:127.0.0.1]:80": true,
		"10.0.0.1:80":           false,
		"[2001:db8::1]:443":     false,
		"not-an-address":        false,
	} {
		if err := dialLoopbackOnly("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("dialLoopbackOnly(%q) = %v, want allowed %v", addr, err, ok)
		}
	}
}

func TestLoaderRefusesRemote(t *testing.T) {
	_, err := newLoader(config{URLs: []string{"http://127.0.0.1/", "http://192.0.2.1/"}})
	if !errors.Is(err, errRemoteTarget) {
		t.Fatalf("newLoader with a remote URL: %v, want errRemoteTarget", err)
	}
	if !strings.Contains(err.Error(), "192.0.2.1") || !strings.Contains(err.Error(), "-allow-remote") {
		t.Errorf("message %q should name the URL and the -allow-remote flag", err)
	}
}

package main

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// errRemoteTarget is returned for a target outside the loopback network when -allow-remote is not given.
var errRemoteTarget = errors.New("refusing to send load to a non-loopback address (only 127.0.0.0/8, ::1 and localhost are allowed; pass -allow-remote to override)")

// checkTarget checks that raw is an absolute http(s) URL and, unless allowRemote, that its host is loopback.
func checkTarget(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("target %q: want an http:// or https:// URL", raw)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("target %q: no host", raw)
	}
	if allowRemote || isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("target %q: %w", raw, errRemoteTarget)
}

// isLoopbackHost reports whether host is the name localhost or a loopback IP literal. Other names are refused
// even if they resolve to loopback: the check must not depend on what DNS says today.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// dialLoopbackOnly is a net.Dialer Control function that refuses any connection whose resolved address is not
// loopback. It backs up checkTarget for names like localhost, whose resolution the tool does not control.
func dialLoopbackOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("dial %s: %w", address, errRemoteTarget)
	}
	return nil
}

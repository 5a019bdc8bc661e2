//go:build tools

// This file keeps a fixed library that no package imports yet in go.mod: coder/websocket, for the live
// streaming of package stream (planned).
package main

import (
	_ "github.com/coder/websocket"
)

//go:build tools

// This file pins the project's fixed libraries in go.mod until real code imports each of them.
package main

import (
	_ "github.com/coder/websocket"
	_ "github.com/fxamacker/cbor/v2"
	_ "github.com/gofiber/fiber/v2"
	_ "github.com/gofiber/fiber/v2/middleware/adaptor"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/vmihailenco/msgpack/v5"
	_ "github.com/xeipuuv/gojsonschema"
	_ "go.mongodb.org/mongo-driver/v2/mongo"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/sync/singleflight"
)

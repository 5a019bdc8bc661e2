package server

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/databoard/databoard/server/web"
)

// handleAsset serves one embedded browser file (package web) with its content type and a strong
// ETag. Browsers revalidate every time (no-cache): a new binary serves new files at once, and an
// unchanged file costs a 304.
func handleAsset(a web.Asset) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, a.ContentType)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderETag, a.ETag)
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		if etagMatches(c.Get(fiber.HeaderIfNoneMatch), a.ETag) {
			c.Status(http.StatusNotModified)
			return nil
		}
		return c.Status(http.StatusOK).Send(a.Body)
	}
}

// etagMatches reports whether an If-None-Match header names tag (or is "*").
func etagMatches(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag || t == "*" {
			return true
		}
	}
	return false
}

// handleLive serves the /live page with its Content-Security-Policy. Its files are named relative to
// it (live.css, live.js, stream.js), so /live/ is sent to /live: behind a proxy's prefix too, as the
// redirect is relative.
func (s *Server) handleLive() fiber.Handler {
	page := handleAsset(web.LiveHTML)
	return func(c *fiber.Ctx) error {
		if strings.HasSuffix(c.Path(), "/") {
			return c.Redirect("../live", http.StatusMovedPermanently)
		}
		c.Set(fiber.HeaderContentSecurityPolicy, web.LiveCSP)
		c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		c.Set(fiber.HeaderXFrameOptions, "DENY")
		return page(c)
	}
}

package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/databoard/databoard/daqbuf/curve"
)

func (s *Server) cacheAdmin() error {
	if s.deps.Cache == nil {
		return newHTTPError(http.StatusNotFound, "no cache configured")
	}
	return nil
}

func (s *Server) handleCacheStats(c *fiber.Ctx) error {
	if err := s.cacheAdmin(); err != nil {
		return err
	}
	return c.JSON(s.deps.Cache.Stats(c.UserContext()))
}

func (s *Server) handleCacheFlushAll(c *fiber.Ctx) error {
	if err := s.cacheAdmin(); err != nil {
		return err
	}
	n, err := s.deps.Cache.FlushAll(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"message": "Cache flushed; channel list reloaded", "deleted": n})
}

func (s *Server) handleCacheFlushChannels(c *fiber.Ctx) error {
	if err := s.cacheAdmin(); err != nil {
		return err
	}
	if err := s.deps.Cache.FlushChannelList(c.UserContext()); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"message": "Channel list and search cache flushed; channel list reloaded"})
}

// handleCacheFlushCurves deletes one channel's curves. channel_name is a name or a seriesId (digits); a
// name is also resolved to its seriesId through the channel list, since chunks are keyed by whichever the
// request carried.
func (s *Server) handleCacheFlushCurves(c *fiber.Ctx) error {
	if err := s.cacheAdmin(); err != nil {
		return err
	}
	q := newQueryParams(c)
	name := strings.TrimSpace(q.RequiredString("channel_name"))
	backend := q.String("backend", "sf-databuffer")
	if err := q.Err(); err != nil {
		return err
	}
	var id uint64
	if curve.IsSeriesID(name) {
		var err error
		if id, err = strconv.ParseUint(name, 10, 64); err != nil {
			return newHTTPError(http.StatusBadRequest, "channel_name: seriesId out of range")
		}
		if ch, ok := s.deps.Channels.LookupSeries(backend, id); ok {
			name = ch.Name
		} else {
			name = ""
		}
	} else if ch, ok, err := s.deps.Channels.Lookup(c.UserContext(), backend, name); err == nil && ok {
		id = ch.SeriesID
	}
	n, err := s.deps.Cache.FlushCurves(c.UserContext(), backend, name, id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"message": "Curves of " + backend + "/" + c.Query("channel_name") + " flushed", "deleted": n})
}

package server

import (
	"context"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/databoard/databoard/dashboards"
)

// DashboardStore is what the dashboard routes need of the store (dashboards.Store); a test seam, so
// curve and search tests run without MongoDB.
type DashboardStore interface {
	Create(ctx context.Context, body []byte) (dashboards.Dashboard, error)
	Get(ctx context.Context, id string) (dashboards.Dashboard, error)
	Replace(ctx context.Context, id string, body []byte) (dashboards.Dashboard, error)
	Delete(ctx context.Context, id string) (dashboards.Dashboard, error)
	Record(ctx context.Context, id string) (dashboards.Record, error)
	SetWhitelisted(ctx context.Context, id string, on bool) error
	SetProtected(ctx context.Context, id string, on bool) error
	Stats() dashboards.Stats
}

var _ DashboardStore = (*dashboards.Store)(nil)

func (s *Server) store() (DashboardStore, error) {
	if s.deps.Dashboards == nil {
		return nil, dashboards.ErrUnavailable
	}
	return s.deps.Dashboards, nil
}

func (s *Server) handleCreateDashboard(c *fiber.Ctx) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	d, err := st.Create(c.UserContext(), c.Body())
	if err != nil {
		return err
	}
	return jsonBytes(c, http.StatusCreated, d.JSON)
}

func (s *Server) handleGetDashboard(c *fiber.Ctx) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	d, err := st.Get(c.UserContext(), pathID(c))
	if err != nil {
		return err
	}
	return jsonBytes(c, http.StatusOK, d.JSON)
}

func (s *Server) handleReplaceDashboard(c *fiber.Ctx) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	d, err := st.Replace(c.UserContext(), pathID(c), c.Body())
	if err != nil {
		return err
	}
	return jsonBytes(c, http.StatusOK, d.JSON)
}

func (s *Server) handleDeleteDashboard(c *fiber.Ctx) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	d, err := st.Delete(c.UserContext(), pathID(c))
	if err != nil {
		return err
	}
	return jsonBytes(c, http.StatusOK, d.JSON)
}

func (s *Server) handleRecord(c *fiber.Ctx) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	rec, err := st.Record(c.UserContext(), pathID(c))
	if err != nil {
		return err
	}
	return c.JSON(rec)
}

func (s *Server) handleWhitelist(on bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		st, err := s.store()
		if err != nil {
			return err
		}
		id := pathID(c)
		if err := st.SetWhitelisted(c.UserContext(), id, on); err != nil {
			return err
		}
		msg := "Dashboard " + id + " whitelisted"
		if !on {
			msg = "Dashboard " + id + " unwhitelisted"
		}
		return c.JSON(fiber.Map{"message": msg})
	}
}

func (s *Server) handleProtect(on bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		st, err := s.store()
		if err != nil {
			return err
		}
		id := pathID(c)
		if err := st.SetProtected(c.UserContext(), id, on); err != nil {
			return err
		}
		msg := "Dashboard " + id + " protected and whitelisted"
		if !on {
			msg = "Dashboard " + id + " unprotected, may still be whitelisted"
		}
		return c.JSON(fiber.Map{"message": msg})
	}
}

// handleDashboardStats shows the store's state without asking it anything, so it answers even when the
// store is wedged: that is when it is wanted.
func (s *Server) handleDashboardStats(c *fiber.Ctx) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	return c.JSON(st.Stats())
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/trainyard/trainyard/compute"
)

// SetNodeHourPrice records the price per node-hour an Admin (by) set for
// the compute; it applies to all its node hours, recorded and to come.
func (s *Store) SetNodeHourPrice(ctx context.Context, workspace, name string, usd float64, by string) error {
	if err := compute.CheckNodeHourPrice(usd); err != nil {
		return err
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO node_hour_prices (workspace, name, usd, set_by, set_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (workspace, name) DO UPDATE SET usd = excluded.usd, set_by = excluded.set_by, set_at = excluded.set_at`,
		workspace, name, usd, by, toMS(s.now()))
	if err != nil {
		return fmt.Errorf("store: set the price per node-hour of %s/%s: %w", workspace, name, err)
	}
	if workspace == compute.LocalWorkspace {
		s.announce(computeChange(name))
	}
	return nil
}

// nodeHourPrice is the Admin-set price of the compute, 0 if none was set.
func (s *Store) nodeHourPrice(ctx context.Context, workspace, name string) (float64, error) {
	var usd float64
	err := s.reader.QueryRowContext(ctx, `SELECT usd FROM node_hour_prices WHERE workspace = ? AND name = ?`, workspace, name).Scan(&usd)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: price per node-hour of %s/%s: %w", workspace, name, err)
	}
	return usd, nil
}

// CostOf is what t, a compute of workspace, has cost: its node hours at
// the catalogue's price for its size, or at the Admin-set price when the
// catalogue has none (compute.CataloguePrice).
func (s *Store) CostOf(ctx context.Context, workspace string, t *compute.Target) (compute.Cost, error) {
	h, err := s.NodeHours(ctx, workspace, t.Name)
	if err != nil {
		return compute.Cost{}, err
	}
	if price, ok := compute.CataloguePrice(t); ok {
		return compute.NewCost(price, compute.PriceCatalogue, h), nil
	}
	price, err := s.nodeHourPrice(ctx, workspace, t.Name)
	if err != nil {
		return compute.Cost{}, err
	}
	return compute.NewCost(price, compute.PriceAdmin, h), nil
}

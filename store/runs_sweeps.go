package store

import (
	"encoding/json"
	"fmt"

	"github.com/trainyard/trainyard/compute"
	"github.com/trainyard/trainyard/compute/hyperdrive"
)

// encodeSweep renders a run's sweep definition and hyperparameters for the
// sweep and hyperparameters columns ("" when absent).
func encodeSweep(r *compute.Run) (sweep, hyper string, err error) {
	if r.Sweep != nil {
		b, err := json.Marshal(r.Sweep)
		if err != nil {
			return "", "", fmt.Errorf("run %s: sweep: %w", r.ID, err)
		}
		sweep = string(b)
	}
	if r.Hyperparameters != nil {
		b, err := json.Marshal(r.Hyperparameters)
		if err != nil {
			return "", "", fmt.Errorf("run %s: hyperparameters: %w", r.ID, err)
		}
		hyper = string(b)
	}
	return sweep, hyper, nil
}

// decodeSweep reads the sweep and hyperparameters columns into r.
func decodeSweep(sweep, hyper string, r *compute.Run) error {
	if sweep != "" {
		r.Sweep = &hyperdrive.Sweep{}
		if err := json.Unmarshal([]byte(sweep), r.Sweep); err != nil {
			return fmt.Errorf("run %s: sweep: %w", r.ID, err)
		}
	}
	if hyper != "" {
		if err := json.Unmarshal([]byte(hyper), &r.Hyperparameters); err != nil {
			return fmt.Errorf("run %s: hyperparameters: %w", r.ID, err)
		}
	}
	return nil
}

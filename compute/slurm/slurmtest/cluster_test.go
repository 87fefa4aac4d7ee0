package slurmtest

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestStartStop(t *testing.T) {
	c := Start(t, Options{})
	out := c.Scontrol(t, "show", "partition", c.Partition)
	if !strings.Contains(out, "TotalNodes=3") {
		t.Errorf("partition: %s", out)
	}
	if q := c.Squeue(t); len(q) != 0 {
		t.Errorf("squeue = %v", q)
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, c.RESTURL+"/slurm/v0.0.38/ping", nil)
	req.Header.Set("X-SLURM-USER-NAME", c.User)
	req.Header.Set("X-SLURM-USER-TOKEN", c.Token(t))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("REST ping with Token: HTTP %d", resp.StatusCode)
	}

	id := c.Sbatch(t, "--wrap", "sleep 300")
	if q := c.Squeue(t); !slices.Contains(q, id) {
		t.Errorf("squeue = %v, want job %s", q, id)
	}
	c.SetNodeState(t, "node2", "drain", "testing")
	if out := c.Scontrol(t, "show", "node", "node2"); !strings.Contains(out, "Reason=testing") {
		t.Errorf("node2: %s", out)
	}
	c.Stop() // with a job running: its processes must go too
	if pids := c.strays(); len(pids) != 0 {
		t.Errorf("processes of the cluster left after Stop: %v", pids)
	}
}

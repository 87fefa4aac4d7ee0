package compute

import "time"

// Partition is one partition (queue) of a scheduler-backed target such as a
// Slurm cluster, as its backend reports it.
type Partition struct {
	Name       string
	State      string // UP, DOWN, DRAIN, INACTIVE
	Nodes      []string
	TotalNodes int
	TotalCPUs  int
	Default    bool
	MaxTime    string // as the scheduler writes it, e.g. "UNLIMITED" or "1-00:00:00"
}

// ClusterInfo is what Trainyard last read from a scheduler-backed target: its
// nodes, partitions and version. Err is the last read's error when it failed;
// the rest is then from the last read that worked.
type ClusterInfo struct {
	Version    string
	Partitions []Partition
	Nodes      []Node
	At         time.Time // when Nodes and Partitions were read
	Err        string
}

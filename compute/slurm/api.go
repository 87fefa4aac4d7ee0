package slurm

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// The JSON shapes of slurmrestd, as far as this package reads them. v0.0.38
// (22.05) is the shape measured here; the decoders also accept what later
// versions changed (numbers wrapped as {"set","infinite","number"}, state
// strings as arrays, exit codes as objects), so one set of types serves all.

// flexInt is a number that may come as a number, a numeric string, null, or
// v0.0.39+'s {"set": true, "infinite": false, "number": 5}.
type flexInt struct {
	Value    int64
	Set      bool // false for null or "set": false
	Infinite bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	*f = flexInt{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '{':
		var o struct {
			Set      *bool   `json:"set"`
			Infinite bool    `json:"infinite"`
			Number   float64 `json:"number"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		f.Set = o.Set == nil || *o.Set
		f.Infinite = o.Infinite
		f.Value = int64(o.Number)
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil // not a number: leave unset rather than fail the whole answer
		}
		f.Value, f.Set = n, true
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	f.Value, f.Set = int64(n), true
	return nil
}

// Int returns the value, or 0 when unset or infinite.
func (f flexInt) Int() int {
	if !f.Set || f.Infinite {
		return 0
	}
	return int(f.Value)
}

// flexStrings is a list that may come as one string or an array of strings.
type flexStrings []string

func (f *flexStrings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexStrings{s}
	default:
		var ss []string
		if err := json.Unmarshal(b, &ss); err != nil {
			return err
		}
		*f = ss
	}
	return nil
}

// flexString is a string that later versions may wrap in an object; for an
// object the first non-empty string field of keys is taken.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*f = ""
	switch {
	case len(b) == 0 || string(b) == "null":
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case b[0] == '{':
		var o map[string]json.RawMessage
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		// comment: {"job": ...}; partition nodes: {"configured": ...}
		for _, k := range []string{"job", "configured", "name"} {
			var s string
			if json.Unmarshal(o[k], &s) == nil && s != "" {
				*f = flexString(s)
				return nil
			}
		}
	}
	return nil
}

// exitStatus is a job's exit code: v0.0.38 sends the raw wait status
// (exit 3 → 768, killed by signal 9 → 9), v0.0.39+ an object.
type exitStatus struct {
	Code   int // the program's exit code
	Signal int // the signal that killed it, 0 if none
	Set    bool
}

func (e *exitStatus) UnmarshalJSON(b []byte) error {
	*e = exitStatus{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '{' {
		var o struct {
			ReturnCode flexInt `json:"return_code"`
			Signal     struct {
				ID flexInt `json:"id"`
			} `json:"signal"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		e.Code, e.Signal, e.Set = o.ReturnCode.Int(), o.Signal.ID.Int(), true
		return nil
	}
	var raw flexInt
	if err := raw.UnmarshalJSON(b); err != nil {
		return err
	}
	if raw.Set {
		*e = decodeWaitStatus(int(raw.Value))
	}
	return nil
}

// decodeWaitStatus splits a raw wait status as Slurm stores it: the exit
// code in bits 8-15, the terminating signal in bits 0-6.
func decodeWaitStatus(ws int) exitStatus {
	return exitStatus{Code: (ws >> 8) & 0xff, Signal: ws & 0x7f, Set: true}
}

type meta struct {
	Slurm  *slurmMeta `json:"Slurm"`
	Slurm2 *slurmMeta `json:"slurm"`
}

type slurmMeta struct {
	Release string `json:"release"`
	Version struct {
		Major, Minor, Micro flexInt
	} `json:"version"`
}

func (m meta) release() string {
	s := m.Slurm
	if s == nil {
		s = m.Slurm2
	}
	if s == nil {
		return ""
	}
	if s.Release != "" {
		return s.Release
	}
	if s.Version.Major.Set {
		return strconv.Itoa(s.Version.Major.Int()) + "." + strconv.Itoa(s.Version.Minor.Int()) + "." + strconv.Itoa(s.Version.Micro.Int())
	}
	return ""
}

type pingResponse struct {
	Meta  meta `json:"meta"`
	Pings []struct {
		Hostname string     `json:"hostname"`
		Ping     flexString `json:"ping"`   // v0.0.38: "UP"
		Pinged   flexString `json:"pinged"` // v0.0.39+
	} `json:"pings"`
}

type jobInfo struct {
	JobID            flexInt     `json:"job_id"`
	Name             string      `json:"name"`
	Comment          flexString  `json:"comment"`
	JobState         flexStrings `json:"job_state"`
	StateReason      string      `json:"state_reason"`
	StateDescription string      `json:"state_description"`
	ExitCode         exitStatus  `json:"exit_code"`
	RestartCnt       flexInt     `json:"restart_cnt"`
	Nodes            string      `json:"nodes"`
	BatchHost        string      `json:"batch_host"`
	TimeLimit        flexInt     `json:"time_limit"`
	Partition        string      `json:"partition"`
}

type jobsResponse struct {
	Jobs []jobInfo `json:"jobs"`
}

type nodeInfo struct {
	Name        string      `json:"name"`
	Address     string      `json:"address"`
	Hostname    string      `json:"hostname"`
	Port        flexInt     `json:"port"`
	State       flexStrings `json:"state"`
	StateFlags  flexStrings `json:"state_flags"`
	CPUs        flexInt     `json:"cpus"`
	RealMemory  flexInt     `json:"real_memory"`
	Gres        string      `json:"gres"`
	Reason      string      `json:"reason"`
	ReasonSince flexInt     `json:"reason_changed_at"`
	Partitions  []string    `json:"partitions"`
}

type nodesResponse struct {
	Nodes []nodeInfo `json:"nodes"`
}

type partitionInfo struct {
	Name       string      `json:"name"`
	Nodes      flexString  `json:"nodes"`
	State      flexStrings `json:"state"`
	Flags      flexStrings `json:"flags"`
	TotalCPUs  flexInt     `json:"total_cpus"`
	TotalNodes flexInt     `json:"total_nodes"`
	MaxTime    flexInt     `json:"max_time_limit"`
	// v0.0.40+: nested objects
	Partition *struct {
		State flexStrings `json:"state"`
	} `json:"partition"`
	CPUsV40 *struct {
		Total flexInt `json:"total"`
	} `json:"cpus"`
	Maximums *struct {
		Time flexInt `json:"time"`
	} `json:"maximums"`
}

type partitionsResponse struct {
	Partitions []partitionInfo `json:"partitions"`
}

type submitResponse struct {
	JobID flexInt `json:"job_id"`
	// v0.0.40+ also: result.job_id
	Result *struct {
		JobID flexInt `json:"job_id"`
	} `json:"result"`
	UserMsg string `json:"job_submit_user_msg"`
}

func (r submitResponse) id() int64 {
	if r.JobID.Set {
		return r.JobID.Value
	}
	if r.Result != nil && r.Result.JobID.Set {
		return r.Result.JobID.Value
	}
	return 0
}

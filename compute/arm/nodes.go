package arm

import "github.com/trainyard/trainyard/compute"

// FromNodes renders a target's nodes as the listNodes body.
func FromNodes(nodes []compute.Node) NodeList {
	l := NodeList{Nodes: []NodeInfo{}}
	for _, n := range nodes {
		l.Nodes = append(l.Nodes, NodeInfo{
			NodeID:           n.ID,
			PrivateIPAddress: n.PrivateIP,
			PublicIPAddress:  n.PublicIP,
			Port:             n.Port,
			NodeState:        string(n.State),
			RunID:            n.RunID,
		})
	}
	return l
}

// NodeList is the body of listNodes: AmlComputeNodesInformation.
type NodeList struct {
	Nodes    []NodeInfo `json:"nodes"`
	NextLink string     `json:"nextLink,omitempty"`
}

// NodeInfo is one node: AmlComputeNodeInformation.
type NodeInfo struct {
	NodeID           string `json:"nodeId"`
	PrivateIPAddress string `json:"privateIpAddress,omitempty"`
	PublicIPAddress  string `json:"publicIpAddress,omitempty"`
	Port             int    `json:"port,omitempty"` // SSH port
	NodeState        string `json:"nodeState"`      // idle, running, preparing, unusable, leaving, preempted
	RunID            string `json:"runId,omitempty"`
}

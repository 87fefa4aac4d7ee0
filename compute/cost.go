package compute

import (
	"math"
	"time"
)

// What a compute has cost (issue 15, "Cost you can see"): its node hours,
// recorded by the server as it sees node counts change, times a price per
// node-hour. Azure computes and local ones are counted alike; where the
// price comes from differs, and the Cost says which.

// Where a price per node-hour comes from.
const (
	// PriceCatalogue: the size's price in Trainyard's dated catalogue
	// (vmsizes.go). For a local cluster or instance it is the price the
	// equivalent Azure size would cost: an estimate, for comparison.
	PriceCatalogue = "catalogue"
	// PriceAdmin: the price an Admin set for the target (on-premises
	// machines, Slurm clusters, anything without a catalogue size); 0 until
	// one is set.
	PriceAdmin = "admin"
)

// CostCurrency is the currency of every price and cost (the catalogue's).
const CostCurrency = "USD"

// MaxNodeHourPrice bounds an Admin-set price, so a typing slip (an extra
// few zeros) is refused rather than shown as a fortune.
const MaxNodeHourPrice = 10000.0

// NodeHours is what the store recorded of a compute's nodes over time.
type NodeHours struct {
	Hours float64   // node hours up to the time they were read
	Since time.Time // the first sample; zero if never sampled
}

// Cost is a compute's price per node-hour and its accrued cost; the API
// shows it as properties.trainyardCost (Trainyard's own field, not ARM's).
type Cost struct {
	PricePerNodeHour float64   `json:"pricePerNodeHour"`
	NodeHours        float64   `json:"nodeHours"`
	Since            time.Time `json:"since,omitzero"`
	Accrued          float64   `json:"accrued"`
	Currency         string    `json:"currency"`
	Source           string    `json:"source"` // PriceCatalogue or PriceAdmin
}

// NewCost is the cost of h node hours at price from source.
func NewCost(price float64, source string, h NodeHours) Cost {
	return Cost{PricePerNodeHour: price, NodeHours: h.Hours, Since: h.Since, Accrued: h.Hours * price,
		Currency: CostCurrency, Source: source}
}

// CataloguePrice is the catalogue's estimated price per node-hour of t's
// size and tier; false when t has no size the catalogue knows (attached
// targets, the built-in local target), whose price an Admin sets.
func CataloguePrice(t *Target) (float64, bool) {
	size, ok := LookupVMSize(t.VMSizeName())
	if !ok {
		return 0, false
	}
	prio := Dedicated
	if t.Cluster != nil && t.Cluster.VMPriority == LowPriority {
		prio = LowPriority
	}
	return size.Price(prio), true
}

// CheckNodeHourPrice refuses a price that is not a finite number from 0
// to MaxNodeHourPrice.
func CheckNodeHourPrice(usd float64) error {
	if math.IsNaN(usd) || usd < 0 || usd > MaxNodeHourPrice {
		return Invalid("pricePerNodeHour", "The price per node-hour is a number of US dollars from 0 to %.0f.", MaxNodeHourPrice)
	}
	return nil
}

// BilledNodes is how many nodes of t count towards its node hours now. It
// is what a bill would count where Trainyard can see it, and nothing where
// it cannot:
//   - a cluster: its current nodes (Azure bills allocated nodes, busy or
//     idle), less preempted low-priority ones, which are not billed;
//   - an instance: one node while it runs (a stopped instance's VM is
//     deallocated and not billed);
//   - an attached VM or HDInsight head node, and the built-in local
//     target: one node while it is usable (attached, not unreachable),
//     since the machine is there to be paid for whether or not it works;
//   - a Slurm cluster: the nodes its partition reports that are not
//     down (unusable), while the cluster answers;
//   - Databricks, Data Lake Analytics, Batch: none, because Trainyard sees
//     no nodes of theirs.
func BilledNodes(t *Target) int {
	if t.ProvisioningState != ProvisioningSucceeded && t.Instance == nil && t.Cluster == nil {
		return 0
	}
	switch t.Kind {
	case KindCluster:
		return max(0, t.Nodes.Current-t.Nodes.Preempted)
	case KindInstance:
		if t.Instance != nil && (t.Instance.State == InstanceRunning || t.Instance.State == InstanceJobRunning) {
			return 1
		}
		return 0
	case KindLocal:
		return 1
	case KindVirtualMachine, KindHDInsight:
		if t.Attach == nil || t.Attach.Unreachable || !t.Attach.Checked {
			return 0
		}
		return 1
	case KindSlurm:
		if t.Attach != nil && t.Attach.Unreachable {
			return 0
		}
		return max(0, t.Nodes.Current-t.Nodes.Unusable)
	}
	return 0
}

package compute

import (
	"sort"
	"strings"
)

// VMSize is one entry of the VM size picker (Azure's VirtualMachineSize).
type VMSize struct {
	Name     string // canonical spelling, e.g. Standard_D2_v2
	Family   string // e.g. standardDv2Family
	Category string // General purpose, Memory optimized, Compute optimized, GPU
	VCPUs    int
	MemoryGB float64
	GPUs     int
	GPUModel string
	// HourlyUSD is an estimate of the Linux pay-as-you-go price per node hour;
	// low priority is LowPriorityDiscount of it. Trainyard runs nothing in Azure
	// here, so these are for comparison only and labelled as estimates.
	HourlyUSD float64
}

// LowPriorityDiscount is the share of the dedicated price a low-priority node
// costs in the estimates (Azure's spot/low-priority pricing is about 80 % off).
const LowPriorityDiscount = 0.2

// IsGPU reports whether the size has GPUs.
func (s VMSize) IsGPU() bool { return s.GPUs > 0 }

// Price is the estimated hourly price of one node for the tier.
func (s VMSize) Price(p VMPriority) float64 {
	if p == LowPriority {
		return s.HourlyUSD * LowPriorityDiscount
	}
	return s.HourlyUSD
}

// vmSizes is docs/design/studio-compute.md §6, the sizes the picker offers.
var vmSizes = []VMSize{
	{"Standard_DS1_v2", "standardDSv2Family", "General purpose", 1, 3.5, 0, "", 0.073},
	{"Standard_D2_v2", "standardDv2Family", "General purpose", 2, 7, 0, "", 0.146},
	{"Standard_DS2_v2", "standardDSv2Family", "General purpose", 2, 7, 0, "", 0.146},
	{"Standard_DS3_v2", "standardDSv2Family", "General purpose", 4, 14, 0, "", 0.293},
	{"Standard_DS4_v2", "standardDSv2Family", "General purpose", 8, 28, 0, "", 0.585},
	{"Standard_DS5_v2", "standardDSv2Family", "General purpose", 16, 56, 0, "", 1.170},
	{"Standard_DS11_v2", "standardDSv2Family", "Memory optimized", 2, 14, 0, "", 0.185},
	{"Standard_DS12_v2", "standardDSv2Family", "Memory optimized", 4, 28, 0, "", 0.371},
	{"Standard_DS13_v2", "standardDSv2Family", "Memory optimized", 8, 56, 0, "", 0.741},
	{"Standard_D2s_v3", "standardDSv3Family", "General purpose", 2, 8, 0, "", 0.096},
	{"Standard_D4s_v3", "standardDSv3Family", "General purpose", 4, 16, 0, "", 0.192},
	{"Standard_D8s_v3", "standardDSv3Family", "General purpose", 8, 32, 0, "", 0.384},
	{"Standard_D16s_v3", "standardDSv3Family", "General purpose", 16, 64, 0, "", 0.768},
	{"Standard_D4ds_v4", "standardDDSv4Family", "General purpose", 4, 16, 0, "", 0.226},
	{"Standard_F4s_v2", "standardFSv2Family", "Compute optimized", 4, 8, 0, "", 0.169},
	{"Standard_F8s_v2", "standardFSv2Family", "Compute optimized", 8, 16, 0, "", 0.338},
	{"Standard_F16s_v2", "standardFSv2Family", "Compute optimized", 16, 32, 0, "", 0.677},
	{"Standard_F72s_v2", "standardFSv2Family", "Compute optimized", 72, 144, 0, "", 3.045},
	{"Standard_NC6", "standardNCFamily", "GPU", 6, 56, 1, "K80", 0.90},
	{"Standard_NC4as_T4_v3", "standardNCASv3_T4Family", "GPU", 4, 28, 1, "T4", 0.526},
	{"Standard_NC8as_T4_v3", "standardNCASv3_T4Family", "GPU", 8, 56, 1, "T4", 0.752},
	{"Standard_NC16as_T4_v3", "standardNCASv3_T4Family", "GPU", 16, 110, 1, "T4", 1.204},
	{"Standard_NC64as_T4_v3", "standardNCASv3_T4Family", "GPU", 64, 440, 4, "T4", 4.352},
	{"Standard_NC6s_v3", "standardNCSv3Family", "GPU", 6, 112, 1, "V100", 3.06},
	{"Standard_NC12s_v3", "standardNCSv3Family", "GPU", 12, 224, 2, "V100", 6.12},
	{"Standard_NC24s_v3", "standardNCSv3Family", "GPU", 24, 448, 4, "V100", 12.24},
	{"Standard_NC24ads_A100_v4", "standardNCADSA100v4Family", "GPU", 24, 220, 1, "A100 80GB", 3.673},
	{"Standard_NC48ads_A100_v4", "standardNCADSA100v4Family", "GPU", 48, 440, 2, "A100 80GB", 7.346},
	{"Standard_NC96ads_A100_v4", "standardNCADSA100v4Family", "GPU", 96, 880, 4, "A100 80GB", 14.692},
	{"Standard_ND96asr_v4", "standardNDASv4_A100Family", "GPU", 96, 900, 8, "A100 40GB", 27.197},
}

// VMSizes returns the catalogue, CPU sizes first, each group by vCPUs.
func VMSizes() []VMSize {
	out := append([]VMSize(nil), vmSizes...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].IsGPU() != out[j].IsGPU() {
			return !out[i].IsGPU()
		}
		return out[i].VCPUs < out[j].VCPUs
	})
	return out
}

// LookupVMSize finds a size by name, case-insensitively as Azure does
// (STANDARD_D2_V2 = Standard_D2_v2), and returns the canonical entry.
func LookupVMSize(name string) (VMSize, bool) {
	for _, s := range vmSizes {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return VMSize{}, false
}

// DefaultVMSize is the size the CLI and YAML use when none is given.
const DefaultVMSize = "Standard_DS3_v2"

// Package components holds small view pieces that take values and fetch nothing.
package components

// Tone is the colour family of a state badge.
type Tone string

// The badge tones (docs/design/ui.md "States").
const (
	ToneOK      Tone = "ok"      // Succeeded, Running (instance), idle
	ToneBusy    Tone = "busy"    // transitional: spinner dot
	ToneBad     Tone = "bad"     // Failed, Unusable
	ToneNeutral Tone = "neutral" // Stopped, Canceled, unchecked
	ToneWarn    Tone = "warn"    // preempted, attention needed
)

// ToneFor maps any state word of the product to its tone.
func ToneFor(state string) Tone {
	switch state {
	case "Succeeded", "Running", "JobRunning", "idle", "running", "Completed", "Steady":
		return ToneOK
	case "Creating", "Updating", "Deleting", "Starting", "Stopping", "Restarting", "Resizing",
		"preparing", "leaving", "Queued", "Preparing", "Finalizing", "NotStarted", "CancelRequested":
		return ToneBusy
	case "Failed", "CreateFailed", "Unusable", "unusable", "SetupFailed":
		return ToneBad
	case "preempted", "Unknown":
		return ToneWarn
	}
	return ToneNeutral
}

func dotClass(t Tone) string {
	switch t {
	case ToneOK:
		return "bg-green-600"
	case ToneBusy:
		return "bg-blue-600 animate-pulse"
	case ToneBad:
		return "bg-red-700"
	case ToneWarn:
		return "bg-amber-500"
	}
	return "bg-gray-500"
}

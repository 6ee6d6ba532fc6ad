package runid

import "github.com/sparkcd/sparkcd/api/v1alpha1"

// Identity identifies one run of a job: what its objects are named and
// labelled with.
type Identity struct {
	// Name of the run, a DNS-1035 label of at most 63 characters; the driver
	// pod is "<Name>-driver".
	Name string
	// AppID is spark.app.id: "spark-" and 32 hex characters.
	AppID string
	// Revision of the source the spec came from.
	Revision string
	// Trigger is what started the run.
	Trigger v1alpha1.RunTrigger
	// SpecHash of the spec the run starts with.
	SpecHash string
}

package v1alpha1

// GPUSpec is a GPU resource and how many of it the Spark container gets.
type GPUSpec struct {
	// Name is the resource name, such as nvidia.com/gpu or amd.com/gpu.
	Name string `json:"name"`
	// Quantity is the number of GPUs.
	// +kubebuilder:validation:Minimum=1
	Quantity int64 `json:"quantity"`
}

// Port is an extra container port of the Spark container.
type Port struct {
	// Name of the port.
	Name string `json:"name"`
	// Protocol is TCP, UDP or SCTP; TCP when empty.
	// +optional
	Protocol string `json:"protocol,omitempty"`
	// ContainerPort is the port number.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	ContainerPort int32 `json:"containerPort"`
}

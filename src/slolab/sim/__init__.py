"""The embedded simulator: a seeded discrete-event model, in virtual time, of the parts of
Kubernetes and vLLM the labs depend on. It never touches a cluster, the network or the clock."""

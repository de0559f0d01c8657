"""The learner's workspace: editable copies of a lab's manifests, rendered from slolab's charts."""

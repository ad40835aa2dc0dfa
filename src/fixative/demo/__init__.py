"""The demo: real C. elegans cells and synapses in an embedded datastack."""

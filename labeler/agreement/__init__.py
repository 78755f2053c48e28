"""Agreement between annotators: metrics, consensus and final labels."""

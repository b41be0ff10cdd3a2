"""HTTP surfaces: /admin/v1 (control plane) and, later, /v1 (data plane)."""

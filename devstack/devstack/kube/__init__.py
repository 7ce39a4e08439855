"""Kubernetes manifests of the platform, rendered from the services' settings and the catalog."""

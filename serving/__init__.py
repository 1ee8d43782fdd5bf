"""Serving: what reaches pushed models (server, clients, deployment files). The Pusher writes TF Serving's layout."""

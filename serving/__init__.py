"""Serving: pushing models and serving them.

push.py pushes a model into TF Serving's layout, `<serving dir>/<model>/<version>/`, atomically,
and writes models.config (the pipeline's Pusher calls it: components/push_executor.py); deploy/
runs the real TF Serving over it (Docker Compose, Kubernetes).

The embedded TF-Serving-compatible server (`tfpipe serve`), from the outside in:
  model_server.py   ModelServer: starts the front ends and the version watcher
  grpc_server.py    PredictionService and ModelService over gRPC
  rest_server.py    TF Serving's REST API over HTTP
  api.py            the API's semantics on TF Serving's protos, shared by both front ends
  model_manager.py  which versions are loaded: polling, version policy, labels
  servables.py      one loaded SavedModel version and its signatures
  batching.py       merging concurrent requests into one model call
  errors.py         ServingError: a gRPC status code and its HTTP status
client.py is the Python gRPC client for this server or the real TF Serving.
"""

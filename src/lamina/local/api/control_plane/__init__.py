"""Lambda's control plane for the local Lambda: functions and layers over HTTP, persisted on disk.

- :mod:`~lamina.local.api.control_plane.service`: :class:`ControlPlane`, one method per operation
  (CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration, GetFunction,
  GetFunctionConfiguration, ListFunctions, DeleteFunction, PublishLayerVersion, GetLayerVersion,
  GetLayerVersionByArn, ListLayers, ListLayerVersions, DeleteLayerVersion), AWS-shaped dicts in and out.
- :mod:`~lamina.local.api.control_plane.request_types`: the JSON types of request members, checked first.
- :mod:`~lamina.local.api.control_plane.routes`: the aiohttp routes with Lambda's paths.
- :mod:`~lamina.local.api.control_plane.store`: SQLite metadata and code files in the data directory;
  :mod:`~lamina.local.api.control_plane.unzip`: safe extraction of uploaded zips.
- :mod:`~lamina.local.api.control_plane.mount`: serving it inside ``lamina serve``, where deployed
  functions become the local Lambda's functions; :mod:`~lamina.local.api.control_plane.task`: a
  deployed function as the local Lambda runs it; :mod:`~lamina.local.api.control_plane.s3_code`: code
  given as S3 objects.
"""
